#!/usr/bin/env bash
# One-off: regenerates icons/ (the bundler's set and the tray icon) from a drawn source icon.
# Not part of start/test. Needs ImageMagick (apt imagemagick) and the npm registry (npx).
#
#   ./scripts/make-icons.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
command -v convert >/dev/null || die "ImageMagick missing: apt-get install imagemagick"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# 1024x1024 RGBA: rounded square, blue->teal gradient, white "H" with a soft shadow.
convert -size 1024x1024 -define gradient:angle=135 gradient:'#2563eb-#0891b2' grad.png
convert -size 1024x1024 xc:none -fill white -draw "roundrectangle 64,64 959,959 200,200" mask.png
convert grad.png mask.png -alpha off -compose CopyOpacity -composite base.png
convert -size 1024x1024 xc:none -fill white \
  -draw "roundrectangle 300,272 412,752 28,28" -draw "roundrectangle 612,272 724,752 28,28" \
  -draw "rectangle 380,458 656,566" H.png
convert -size 1024x1024 xc:none -fill 'rgba(0,0,0,0.18)' \
  -draw "roundrectangle 300,284 412,764 28,28" -draw "roundrectangle 612,284 724,764 28,28" \
  -draw "rectangle 380,470 656,578" -blur 0x10 shadow.png
convert base.png shadow.png -compose over -composite H.png -compose over -composite PNG32:source.png

npx --yes @tauri-apps/cli@2 icon source.png -o "$work/out" >/dev/null
mkdir -p "$ROOT/icons"
for f in 32x32.png 128x128.png 128x128@2x.png icon.png icon.ico icon.icns; do
  cp "out/$f" "$ROOT/icons/$f"
done

# Tray: 32x32 RGBA, a plain "H" in a dark rounded square; reads on light and dark panels.
convert -size 128x128 xc:none -fill '#1f2937' -draw "roundrectangle 4,4 123,123 26,26" \
  -fill white -draw "roundrectangle 34,26 54,102 5,5" -draw "roundrectangle 74,26 94,102 5,5" \
  -draw "rectangle 48,55 80,73" -resize 32x32 PNG32:"$ROOT/icons/tray.png"

identify "$ROOT"/icons/*.png
