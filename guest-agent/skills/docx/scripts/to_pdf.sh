#!/bin/sh
# Convert Word, PowerPoint or spreadsheet files to PDF with LibreOffice, next to the originals.
# Usage: to_pdf.sh FILE... (needs the full toolset with LibreOffice)
set -eu
if ! command -v soffice >/dev/null 2>&1; then
    echo "LibreOffice is missing: prepare the full toolset with LibreOffice to convert" >&2
    exit 1
fi
[ "$#" -gt 0 ] || { echo "usage: to_pdf.sh FILE..." >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for file in "$@"; do
    soffice "-env:UserInstallation=file://$profile" --headless --convert-to pdf \
        --outdir "$(dirname "$file")" "$file" >/dev/null
    echo "${file%.*}.pdf"
done
