"""Renders docs/screenshot.png from a real session: run the TUI in tmux at 140x40 on the
bundled sample, let the run finish, then
    tmux capture-pane -t SESSION -p -e > /tmp/th/screen.ansi
and run this script with Pillow installed (python3 -m pip install pillow). It draws the
captured cells, colours included, in DejaVu Sans Mono."""
import re, sys
from PIL import Image, ImageDraw, ImageFont
lines = open('/tmp/th/screen.ansi', encoding='utf-8').read().split('\n')[:40]
font = ImageFont.truetype('/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf', 15)
bold = ImageFont.truetype('/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf', 15)
cw = int(font.getlength('M')); ch = 19
cols = 140
BG = (24, 26, 33); FG = (208, 208, 208)
base = [(0,0,0),(205,49,49),(13,188,121),(229,229,16),(36,114,200),(188,63,188),(17,168,205),(229,229,229)]
bright = [(102,102,102),(241,76,76),(35,209,139),(245,245,67),(59,142,234),(214,112,214),(41,184,219),(255,255,255)]
def c256(n):
    if n < 8: return base[n]
    if n < 16: return bright[n-8]
    if n < 232:
        n -= 16; r, g, b = n//36, (n//6)%6, n%6
        f = lambda v: 0 if v == 0 else 55 + 40*v
        return (f(r), f(g), f(b))
    v = 8 + 10*(n-232); return (v, v, v)
img = Image.new('RGB', (cols*cw + 20, len(lines)*ch + 20), BG)
d = ImageDraw.Draw(img)
sgr = re.compile(r'\x1b\[([0-9;]*)m')
for y, line in enumerate(lines):
    fg, bg, b, rev = FG, None, False, False
    x = 0; i = 0
    while i < len(line):
        m = sgr.match(line, i)
        if m:
            codes = [int(c) if c else 0 for c in m.group(1).split(';')] if m.group(1) else [0]
            k = 0
            while k < len(codes):
                c = codes[k]
                if c == 0: fg, bg, b, rev = FG, None, False, False
                elif c == 1: b = True
                elif c == 22: b = False
                elif c == 7: rev = True
                elif c == 27: rev = False
                elif 30 <= c <= 37: fg = base[c-30]
                elif 90 <= c <= 97: fg = bright[c-90]
                elif c == 39: fg = FG
                elif 40 <= c <= 47: bg = base[c-40]
                elif 100 <= c <= 107: bg = bright[c-100]
                elif c == 49: bg = None
                elif c in (38, 48) and k+1 < len(codes):
                    if codes[k+1] == 5: col = c256(codes[k+2]); k += 2
                    elif codes[k+1] == 2: col = tuple(codes[k+2:k+5]); k += 4
                    else: col = None
                    if c == 38: fg = col or FG
                    else: bg = col
                k += 1
            i = m.end(); continue
        chr_ = line[i]; i += 1
        f, bk = (bg or BG, fg) if rev else (fg, bg)
        px, py = 10 + x*cw, 10 + y*ch
        if bk is not None:
            d.rectangle([px, py, px+cw, py+ch], fill=bk)
        if chr_ != ' ':
            d.text((px, py), chr_, font=bold if b else font, fill=f)
        x += 1
img.save('/work/main/docs/screenshot.png', optimize=True)
print(img.size)
