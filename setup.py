"""Setuptools shim for one install option that pyproject.toml cannot express.

    COURSE_UTILS_STUDENT=1 pip install .

installs ``course_utils`` without the reference solutions (``course_utils.reference``,
``course_utils.reference_torch``): what a student machine gets. The visible checks work
there, because they compare against the precomputed fixtures shipped with the package.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

STUDENT = os.environ.get("COURSE_UTILS_STUDENT", "") not in ("", "0")


class BuildWithoutReference(build_py):
    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if not STUDENT:
            return modules
        return [
            (pkg, mod, path)
            for pkg, mod, path in modules
            if pkg != "course_utils.reference"
            and (pkg, mod) != ("course_utils", "reference_torch")
        ]


setup(cmdclass={"build_py": BuildWithoutReference})
