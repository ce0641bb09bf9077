import sys

from hmi.cli import main

sys.exit(main())
