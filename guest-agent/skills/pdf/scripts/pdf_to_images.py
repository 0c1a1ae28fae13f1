#!/usr/bin/env python3
"""Render the pages of a PDF as PNG images, to look at a layout, a scan or a chart.

Usage: pdf_to_images.py FILE.pdf OUT_DIR [--dpi 100] [--pages 1-3,5]
Writes OUT_DIR/page-001.png, ... and prints one line per image. Needs the full toolset (pypdfium2).
"""
import argparse
import os
import sys


def page_numbers(spec, count):
    if not spec:
        return list(range(1, count + 1))
    wanted = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        start = int(first)
        end = int(last) if last else start
        wanted.extend(n for n in range(start, end + 1) if 1 <= n <= count)
    return wanted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf")
    parser.add_argument("out_dir")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--pages", default="")
    args = parser.parse_args()
    try:
        import pypdfium2 as pdfium
    except ImportError:
        sys.exit("pypdfium2 is missing: this script needs the full toolset (Settings > Toolset > Full)")
    os.makedirs(args.out_dir, exist_ok=True)
    document = pdfium.PdfDocument(args.pdf)
    for number in page_numbers(args.pages, len(document)):
        image = document[number - 1].render(scale=args.dpi / 72).to_pil()
        path = os.path.join(args.out_dir, f"page-{number:03d}.png")
        image.save(path)
        print(f"{path} {image.width}x{image.height}")


if __name__ == "__main__":
    main()
