#!/usr/bin/env python3
"""Writes test/fixtures/opencv/: small images and what OpenCV makes of them, for
test/native-image.test.ts (our JPEG decode and INTER_CUBIC resize must equal OpenCV's, bit for
bit). Run once with Debian's OpenCV: /usr/bin/python3 scripts/make-opencv-fixture.py
(needs python3-opencv: scripts/bootstrap.sh --bench). Raw files are uint8 (or little-endian
uint16) rows, channels interleaved, RGB order; meta.json lists them."""
import json
import os

import cv2
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "opencv")
os.makedirs(out, exist_ok=True)
rng = np.random.RandomState(7)
W, H = 53, 37
yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
# Smooth colour ramps, a hard edge and noise: every kernel tap and both clamps matter.
rgb = np.stack([xx / W * 200 + 20, yy / H * 180 + 40, 128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)], axis=-1)
rgb[:, 30:] += 60
rgb += rng.normal(0, 12, rgb.shape)
rgb = np.clip(rgb, 0, 255).astype(np.uint8)
files = {}


def save(name, arr, **info):
    arr = np.ascontiguousarray(arr)
    arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(out, name))
    h, w = arr.shape[:2]
    files[name] = dict(width=w, height=h, channels=1 if arr.ndim == 2 else arr.shape[2], dtype=str(arr.dtype), **info)


save("src.rgb", rgb)
for w, h in [(29, 31), (64, 48), (101, 67)]:
    save(f"cubic_{w}x{h}.rgb", cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC), source="src.rgb")
gray = np.ascontiguousarray(rgb[:, :, 1])
save("src.gray", gray)
save("cubic_40x30.gray", cv2.resize(gray, (40, 30), interpolation=cv2.INTER_CUBIC), source="src.gray")
rgb16 = (rgb.astype(np.uint16) * 257 + rng.randint(0, 200, rgb.shape)).astype(np.uint16)
save("src.rgb16", rgb16)
save("cubic_64x48.rgb16", cv2.resize(rgb16, (64, 48), interpolation=cv2.INTER_CUBIC), source="src.rgb16")
ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
assert ok
jpg.tofile(os.path.join(out, "src.jpg"))
save("decoded_jpg.rgb", cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), source="src.jpg")
save("decoded_jpg.gray", cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE), source="src.jpg")
with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump({"opencv": cv2.__version__, "made_by": "scripts/make-opencv-fixture.py", "files": files}, f, indent=1)
print(f"wrote {len(files) + 1} files to {out} (OpenCV {cv2.__version__})")
