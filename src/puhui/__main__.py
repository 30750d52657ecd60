from puhui.cli import main

main()
