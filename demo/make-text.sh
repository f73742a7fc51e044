#!/usr/bin/env bash
# Extracts the demo's texts from the King James Version of the Bible (1611, public domain)
# as Debian's bible-kjv-text package ships it, through that package's `bible` program.
# One verse per line, without the verse numbers; a blank line between chapters.
# Run once by hand (needs `apt-get install bible-kjv`); the output is committed.
set -euo pipefail
cd "$(dirname "$0")/text"
command -v bible >/dev/null || { echo "needs the bible program: apt-get install bible-kjv" >&2; exit 1; }

extract() {   # verse specs... -> plain text on stdout
    bible -l0 "$@" | sed -E '/^[1-3]? ?[A-Z][A-Za-z ]+ [0-9]+$/d; s/^ *[0-9]+ //' | cat -s | sed '1{/^$/d}'
}
extract gen1:1-gen50:26 ex1:1-ex40:38 > genesis-exodus.txt       # pretraining the base model
extract prov1:1-prov27:27 > proverbs.txt                           # LoFT fine-tuning
extract prov28:1-prov31:31 > proverbs-eval.txt                     # held out: eval before/after
wc -c genesis-exodus.txt proverbs.txt proverbs-eval.txt
