from tui_caa.cli import main

raise SystemExit(main())
