from pathlens.cli import main

main()
