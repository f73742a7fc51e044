import LoftCLI

Loft.main()
