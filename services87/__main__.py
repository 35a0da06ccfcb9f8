from services87.cli import main

raise SystemExit(main())
