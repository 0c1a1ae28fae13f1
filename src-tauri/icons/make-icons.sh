#!/usr/bin/env bash
# Draws the app icon (a folder on a rounded blue square) and writes every size tauri.conf.json lists.
# Needs ImageMagick (`apt-get install imagemagick`). Run from this directory.
set -euo pipefail
convert -size 512x512 xc:none \
  -fill '#2f5fd0' -draw 'roundrectangle 16,16 495,495 96,96' \
  -fill '#ffffff' -draw 'roundrectangle 104,150 250,210 20,20' \
  -fill '#ffffff' -draw 'roundrectangle 104,180 408,380 28,28' \
  -fill '#2f5fd0' -draw 'rectangle 150,250 362,262' \
  -fill '#2f5fd0' -draw 'rectangle 150,290 320,302' \
  PNG32:icon.png
for size in 32 128 256; do convert icon.png -resize ${size}x${size} PNG32:${size}x${size}.png; done
mv 256x256.png '128x128@2x.png'
