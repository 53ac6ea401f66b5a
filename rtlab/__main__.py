from rtlab.cli import main

raise SystemExit(main())
