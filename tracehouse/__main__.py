from tracehouse.cli import main

raise SystemExit(main())
