"""``python -m autograder.verify --child IN OUT``: the child process (autograder.verify.child)."""

import sys

from autograder.verify.child import child_main

if len(sys.argv) == 4 and sys.argv[1] == "--child":
    child_main(int(sys.argv[2]), int(sys.argv[3]))
else:
    sys.exit("usage: python -m autograder.verify --child FD_IN FD_OUT (started by the verifier)")
