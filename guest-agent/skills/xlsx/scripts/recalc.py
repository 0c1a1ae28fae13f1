#!/usr/bin/env python3
"""Recalculate every formula of a workbook with LibreOffice and report formula errors.

Usage: recalc.py FILE.xlsx
The file is rewritten with computed values cached beside the formulas (so viewers that do not
calculate, and openpyxl's data_only mode, see the results), then every cell is checked for
#REF!, #DIV/0!, #VALUE!, #NAME?, #N/A and #NUM!. Prints a JSON summary; exits 1 when errors were
found. Needs the full toolset with LibreOffice.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ERRORS = ("#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#N/A", "#NUM!", "#NULL!")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = os.path.abspath(sys.argv[1])
    soffice = shutil.which("soffice")
    if not soffice:
        sys.exit("LibreOffice is missing: prepare the full toolset with LibreOffice to recalculate")
    import openpyxl

    with tempfile.TemporaryDirectory() as work:
        # A private profile: a first run must not wait on, or write to, a shared one.
        profile = "file://" + os.path.join(work, "profile")
        result = subprocess.run(
            [soffice, f"-env:UserInstallation={profile}", "--headless", "--calc",
             "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", work, path],
            capture_output=True, text=True, timeout=300,
        )
        converted = os.path.join(work, os.path.basename(path))
        if result.returncode != 0 or not os.path.exists(converted):
            sys.exit(f"LibreOffice could not recalculate {path}: {result.stderr.strip()}")
        shutil.copyfile(converted, path)

    values = openpyxl.load_workbook(path, data_only=True)
    formulas = openpyxl.load_workbook(path)
    errors, count = [], 0
    for sheet in formulas.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    count += 1
                    value = values[sheet.title][cell.coordinate].value
                    if isinstance(value, str) and value in ERRORS:
                        errors.append({"cell": f"{sheet.title}!{cell.coordinate}", "error": value, "formula": cell.value})
    print(json.dumps({"file": path, "formulas": count, "errors": errors}, indent=2))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
