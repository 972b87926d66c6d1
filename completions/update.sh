#!/bin/sh
# Regenerates the committed completion scripts from the CLI tree.
# Usage: update.sh FSC_BIN COMPLETIONS_DIR   (ninja -C build update-completions)
set -eu
"$1" __cli-spec bash > "$2/fsc.bash"
"$1" __cli-spec zsh > "$2/_fsc"
"$1" __cli-spec fish > "$2/fsc.fish"
