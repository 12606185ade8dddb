"""Image sets from files: an .npz of arrays, or a folder of PNG/JPEG images."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from pathlens.errors import PathlensError

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def load_images(
    path: str | Path, input_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images [N, *input_shape] as float32 in [0, 1], and labels [N] when the file has them.

    path: an ``.npz`` with an array ``images`` (or ``x``, or its only array) of shape
    [N, C, H, W], [N, H, W, C] or [N, H, W] (uint8 0-255 or float in [0, 1]), and optional
    ``labels`` (or ``y``); or a folder of PNG/JPEG files, read in name order.
    """
    path = Path(path)
    if path.is_dir():
        return _from_folder(path, input_shape), None
    if not path.is_file():
        raise PathlensError(f"{path} does not exist: give an .npz file or a folder of images.")
    if path.suffix.lower() != ".npz":
        raise PathlensError(
            f"{path} is not an .npz file or a folder. Save images with "
            "numpy.savez(path, images=array, labels=labels), or put PNG/JPEG files in a folder."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PathlensError(
            f"{path} cannot be read as an .npz of plain arrays ({exc}). pathlens never "
            "unpickles objects: save numeric arrays only."
        ) from exc
    image_key = next((k for k in ("images", "x", "X") if k in arrays), None)
    if image_key is None:
        if len(arrays) != 1:
            raise PathlensError(
                f"{path} holds arrays {sorted(arrays)}; name the images 'images' (and the "
                "labels 'labels')."
            )
        image_key = next(iter(arrays))
    images = _to_tensor(arrays[image_key], input_shape, str(path))
    label_key = next((k for k in ("labels", "y", "Y") if k in arrays), None)
    labels = None
    if label_key is not None:
        raw = np.asarray(arrays[label_key])
        if raw.dtype.kind not in "iu" and not (
            raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all()
        ):
            raise PathlensError(
                f"The labels in {path} are not whole class indices (dtype {raw.dtype}): store "
                "them as integers."
            )
        labels = torch.as_tensor(raw.astype(np.int64)).flatten()
        if labels.numel() and labels.min() < 0:
            raise PathlensError(f"The labels in {path} include negative classes: {labels.min()}.")
        if len(labels) != len(images):
            raise PathlensError(
                f"{path} has {len(images)} images but {len(labels)} labels: give one label "
                "per image."
            )
    return images, labels


def _to_tensor(array: np.ndarray, input_shape: tuple[int, ...], source: str) -> torch.Tensor:
    if array.dtype.kind not in "uif":
        raise PathlensError(f"The images in {source} have dtype {array.dtype}, not numbers.")
    if array.ndim < 2:
        raise PathlensError(
            f"The images in {source} are a {array.ndim}-d array of shape {tuple(array.shape)}; "
            "give a stack of images [N, C, H, W], [N, H, W, C] or [N, H, W]."
        )
    if len(array) == 0:
        raise PathlensError(f"{source} holds no images: the set is empty.")
    scaled = array.dtype == np.uint8
    x = array.astype(np.float32) / (255.0 if scaled else 1.0)
    channels = input_shape[0] if len(input_shape) == 3 else None
    if x.ndim == 3 and channels == 1:
        x = x[:, None]
    elif x.ndim == 4 and channels and x.shape[1] != channels and x.shape[-1] == channels:
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise PathlensError(
            f"The images in {source} have shape {tuple(array.shape)}, but the model takes "
            f"[N, {', '.join(map(str, input_shape))}]. Resize them, or convert their channel "
            "count, to match."
        )
    if not np.isfinite(x).all():
        raise PathlensError(
            f"The images in {source} contain NaN or infinite values: clean them first."
        )
    if x.min() < 0 or x.max() > 1:
        raise PathlensError(
            f"The images in {source} have values in [{x.min():.3g}, {x.max():.3g}]; pathlens "
            "expects pixels in [0, 1] (or uint8 0-255). Undo any normalisation: a model that "
            "normalises should do it inside its forward."
        )
    return torch.from_numpy(np.ascontiguousarray(x))


def _from_folder(folder: Path, input_shape: tuple[int, ...]) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise PathlensError(f"{folder} holds no PNG or JPEG images: the set is empty.")
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise PathlensError(
            f"Image files can feed models taking [N, 1 or 3, H, W]; this one takes "
            f"[N, {', '.join(map(str, input_shape))}]. Use an .npz instead."
        )
    mode = "L" if input_shape[0] == 1 else "RGB"
    arrays = []
    for file in files:
        try:
            with Image.open(file) as image:
                array = np.asarray(image.convert(mode))
        except (UnidentifiedImageError, OSError) as exc:
            raise PathlensError(f"{file} cannot be read as an image ({exc}).") from exc
        if array.shape[:2] != tuple(input_shape[1:]):
            raise PathlensError(
                f"{file} is {array.shape[1]}x{array.shape[0]} pixels; the model takes "
                f"{input_shape[2]}x{input_shape[1]}. Resize the images first."
            )
        arrays.append(array)
    return _to_tensor(np.stack(arrays), input_shape, str(folder))
