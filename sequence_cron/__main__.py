from sequence_cron.cli import main

raise SystemExit(main())
