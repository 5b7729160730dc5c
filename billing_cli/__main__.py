from billing_cli.cli import main

main()
