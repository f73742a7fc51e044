import LoftCLI

SignalCleanup.install()
Loft.main()
