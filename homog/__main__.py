import sys

from homog.cli import main

sys.exit(main())
