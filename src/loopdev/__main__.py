from loopdev.cli import main

main()
