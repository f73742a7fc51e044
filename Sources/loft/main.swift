import Compute
import LoftCLI

SignalCleanup.install()
BLASThreads.shortenSpin()
Loft.main()
