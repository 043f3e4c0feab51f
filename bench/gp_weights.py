"""gp_weights.py: a small reader of galpost weights files (weights/FORMAT.md).

    w = GpWeights("model.gpw")
    w.meta["encoder.channels"]      # int, float, str or a numpy array
    w.tensors["enc.conv0.weight"]   # read-only float32 numpy array (no copy)

The header is checked (magic, version, header size, file size, flags,
reserved bytes) and so is the CRC-32 of the whole file; the metadata and
tensor entries are checked for the bounds the reader relies on.  The full
validation of FORMAT.md section 6 is the C reader's job (engine/
gp_weights_read.c); this reader is for the benchmarks in bench/ and refuses
a file the C reader would refuse for the reasons it checks, with a
GpWeightsError naming the file and the field.
"""
import mmap
import struct
import zlib

import numpy as np

MAGIC = b"GALPOSTW"
VERSION = 1
HEADER_SIZE = 128

META_STR, META_I64, META_F64, META_I64_ARRAY, META_F64_ARRAY = 1, 2, 3, 4, 5
DTYPE_F32 = 1


class GpWeightsError(ValueError):
    """A weights file that cannot be used (the message names the file and field)."""


def _pad8(n):
    return (n + 7) & ~7


class GpWeights:
    """A galpost weights file mapped read-only; `meta` and `tensors` are dicts."""

    def __init__(self, path):
        self.path = str(path)
        with open(self.path, "rb") as f:
            try:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError as e:  # empty file
                raise GpWeightsError(f"{self.path}: cannot map the file ({e})") from None
        buf = self._map
        if len(buf) < HEADER_SIZE:
            raise GpWeightsError(f"{self.path}: {len(buf)} bytes is shorter than the {HEADER_SIZE}-byte header")
        (magic, version, header_size, file_size, checksum, flags, meta_off, meta_size,
         meta_count, table_off, table_size, tensor_count, data_off, data_size) = \
            struct.unpack_from("<8sIIQIIQQQQQQQQ", buf, 0)
        if magic != MAGIC:
            raise GpWeightsError(f"{self.path}: field 'magic' is {magic!r}, not a galpost weights file")
        if version != VERSION:
            raise GpWeightsError(f"{self.path}: field 'version' = {version} (this reader reads version {VERSION})")
        if header_size != HEADER_SIZE:
            raise GpWeightsError(f"{self.path}: field 'header_size' = {header_size}, expected {HEADER_SIZE}")
        if file_size != len(buf):
            raise GpWeightsError(f"{self.path}: field 'file_size' = {file_size} but the file has {len(buf)} bytes (truncated?)")
        if flags != 0 or any(buf[96:128]):
            raise GpWeightsError(f"{self.path}: field 'flags' or the reserved header bytes are not zero")
        crc = zlib.crc32(buf[:24])
        crc = zlib.crc32(b"\0\0\0\0", crc)
        crc = zlib.crc32(memoryview(buf)[28:], crc)
        if crc != checksum:
            raise GpWeightsError(f"{self.path}: field 'checksum' = 0x{checksum:08x} but the file's CRC-32 is 0x{crc:08x} (corrupt)")
        for name, off, size, align in (("meta", meta_off, meta_size, 8), ("table", table_off, table_size, 8),
                                        ("data", data_off, data_size, 64)):
            if off < HEADER_SIZE or off % align or off + size > file_size:
                raise GpWeightsError(f"{self.path}: field '{name}_offset' = {off} / '{name}_size' = {size} out of bounds")
        if data_off + data_size != file_size:
            raise GpWeightsError(f"{self.path}: the data section does not end the file")
        self.meta = self._read_meta(buf, meta_off, meta_size, meta_count)
        self.tensors = self._read_table(buf, table_off, table_size, tensor_count, data_off, data_size)
        self.file_size = file_size

    def _read_meta(self, buf, off, size, count):
        meta, pos, end = {}, off, off + size
        for i in range(count):
            if pos + 16 > end:
                raise GpWeightsError(f"{self.path}: metadata entry {i} runs past the metadata section")
            klen, mtype, _res, n = struct.unpack_from("<HHIQ", buf, pos)
            if not 1 <= klen <= 255 or pos + 16 + klen > end:
                raise GpWeightsError(f"{self.path}: metadata entry {i}: key length {klen} out of bounds")
            key = bytes(buf[pos + 16:pos + 16 + klen]).decode("utf-8")
            v = pos + 16 + klen
            if mtype == META_STR:
                nbytes = n
            elif mtype in (META_I64, META_F64):
                if n != 1:
                    raise GpWeightsError(f"{self.path}: metadata '{key}': scalar with count {n}")
                nbytes = 8
            elif mtype in (META_I64_ARRAY, META_F64_ARRAY):
                nbytes = 8 * n
            else:
                raise GpWeightsError(f"{self.path}: metadata '{key}': unknown type {mtype}")
            if v + nbytes > end:
                raise GpWeightsError(f"{self.path}: metadata '{key}': value runs past the metadata section")
            raw = bytes(buf[v:v + nbytes])
            if mtype == META_STR:
                val = raw.decode("utf-8")
            elif mtype == META_I64:
                val = struct.unpack("<q", raw)[0]
            elif mtype == META_F64:
                val = struct.unpack("<d", raw)[0]
            elif mtype == META_I64_ARRAY:
                val = np.frombuffer(raw, dtype="<i8").copy()
            else:
                val = np.frombuffer(raw, dtype="<f8").copy()
            if key in meta:
                raise GpWeightsError(f"{self.path}: metadata key '{key}' appears twice")
            meta[key] = val
            pos = off + _pad8(v + nbytes - off)
        if pos != end:
            raise GpWeightsError(f"{self.path}: the metadata entries do not fill the section")
        return meta

    def _read_table(self, buf, off, size, count, data_off, data_size):
        tensors, pos, end = {}, off, off + size
        for i in range(count):
            if pos + 56 > end:
                raise GpWeightsError(f"{self.path}: tensor entry {i} runs past the tensor table")
            nlen, dtype, ndim = struct.unpack_from("<HHI", buf, pos)
            dims = struct.unpack_from("<4Q", buf, pos + 8)
            doff, dsize = struct.unpack_from("<QQ", buf, pos + 40)
            if not 1 <= nlen <= 255 or pos + 56 + nlen > end:
                raise GpWeightsError(f"{self.path}: tensor entry {i}: name length {nlen} out of bounds")
            name = bytes(buf[pos + 56:pos + 56 + nlen]).decode("utf-8")
            if dtype != DTYPE_F32 or not 1 <= ndim <= 4 or any(d < 1 for d in dims[:ndim]) or any(dims[ndim:]):
                raise GpWeightsError(f"{self.path}: tensor '{name}': dtype {dtype}, rank {ndim}, dims {dims} not valid")
            shape = tuple(int(d) for d in dims[:ndim])
            nelem = int(np.prod(shape, dtype=np.uint64))
            if dsize != 4 * nelem or doff % 64 or doff < data_off or doff + dsize > data_off + data_size:
                raise GpWeightsError(f"{self.path}: tensor '{name}': data [{doff}, +{dsize}) not valid for shape {shape}")
            if name in tensors:
                raise GpWeightsError(f"{self.path}: tensor '{name}' appears twice")
            arr = np.frombuffer(buf, dtype="<f4", count=nelem, offset=doff).reshape(shape)
            if not np.all(np.isfinite(arr)):
                raise GpWeightsError(f"{self.path}: tensor '{name}' has a non-finite value")
            tensors[name] = arr
            pos = off + _pad8(pos + 56 + nlen - off)
        if pos != end:
            raise GpWeightsError(f"{self.path}: the tensor entries do not fill the table")
        return tensors
