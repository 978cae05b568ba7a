#!/usr/bin/env python3
"""sstrip.py FILE - drop an ELF executable's section headers, in place.

A static binary is loaded by its program headers alone; the section
headers and their name table (about 600 B of a 40 KB loopbox, nine 64-byte
headers and their names) are for linkers, debuggers and `size`. This sets
e_shoff, e_shentsize, e_shnum and e_shstrndx to 0 and cuts the file after
the end of the last segment. `file`, `readelf -h` and the kernel are
content; `size`, `nm` and `objdump` no longer are (make bloatcheck builds
unstripped binaries of its own). ELF32 and ELF64, either byte order.
"""
import struct
import sys

path = sys.argv[1]
b = bytearray(open(path, "rb").read())
if b[:4] != b"\x7fELF" or b[4] not in (1, 2) or b[5] not in (1, 2):
    sys.exit("sstrip: %s: not an ELF file" % path)
c64, e = b[4] == 2, "<" if b[5] == 1 else ">"
W, off_ph, off_sh, off_phent = ("Q", 0x20, 0x28, 0x36) if c64 else ("I", 0x1C, 0x20, 0x2A)
phoff = struct.unpack_from(e + W, b, off_ph)[0]
phentsize, phnum = struct.unpack_from(e + "HH", b, off_phent)
end = phoff + phentsize * phnum
for i in range(phnum):
    o = phoff + i * phentsize
    if c64:
        p_offset, p_filesz = struct.unpack_from(e + "Q", b, o + 8)[0], struct.unpack_from(e + "Q", b, o + 32)[0]
    else:
        p_offset, p_filesz = struct.unpack_from(e + "I", b, o + 4)[0], struct.unpack_from(e + "I", b, o + 16)[0]
    end = max(end, p_offset + p_filesz)
struct.pack_into(e + W, b, off_sh, 0)
struct.pack_into(e + "HHH", b, off_phent + 4, 0, 0, 0)   # e_shentsize, e_shnum, e_shstrndx
open(path, "wb").write(b[:end])
