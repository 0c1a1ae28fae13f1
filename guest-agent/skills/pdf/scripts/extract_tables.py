#!/usr/bin/env python3
"""Extract the tables of a PDF (statements, invoices, reports) as CSV files.

Usage: extract_tables.py FILE.pdf OUT_DIR
Writes OUT_DIR/page-<n>-table-<k>.csv for every table pdfplumber finds and prints one line per
file with its size in rows. Needs the full toolset (pdfplumber).
"""
import csv
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        import pdfplumber
    except ImportError:
        sys.exit("pdfplumber is missing: this script needs the full toolset (Settings > Toolset > Full)")
    source, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    found = 0
    with pdfplumber.open(source) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            for k, table in enumerate(page.extract_tables(), start=1):
                path = os.path.join(out_dir, f"page-{number}-table-{k}.csv")
                with open(path, "w", newline="") as out:
                    csv.writer(out).writerows(table)
                found += 1
                print(f"{path} {len(table)} rows")
    if not found:
        print("no tables found (scanned pages have no text; render them with pdf_to_images.py)")


if __name__ == "__main__":
    main()
