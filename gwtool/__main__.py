from gwtool.cli import main

main()
