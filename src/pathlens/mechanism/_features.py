"""Learned features of a channel: receptive fields, top-activating patches, activation maps and
activation-maximisation images (the "neuron view" of CNNVis and AEVis)."""

from __future__ import annotations

import operator
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pathlens._torch import frozen
from pathlens.errors import PathlensError
from pathlens.model import Network, Site

# Receptive fields are measured on inputs up to this many pixels (side x side) before giving up
# on an unclipped measurement: 2048^2 still runs a ResNet-50 backward on a CPU in seconds.
_MAX_MEASURE_PIXELS = 2048 * 2048
_MEASURE_BATCH = 4
# Measured fields per Network and site: the geometry does not change with training, and
# top_patches asks for it on every call.
_FIELDS: weakref.WeakKeyDictionary[Network, dict[str, ReceptiveField]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ReceptiveField:
    """Where one output position of a site looks in the input, per spatial axis (rows, cols).

    Position ``(row, col)`` of the site's output grid sees input rows
    ``[row * stride[0] + offset[0], ... + size[0])`` (and likewise for columns), before clipping
    to the image. ``offset`` is negative where convolutions pad the border. Sites without spatial
    dimensions (output [N, C]) see the whole input: ``size == stride == input_size``,
    ``grid == (1, 1)``.

    ``exact`` is False when the field is larger than any input the model accepts (so it could
    not be measured unclipped); ``size`` is then the clipped size, a lower bound.

    >>> rf = receptive_field(net, "stem.2")
    >>> rf.size, rf.stride, rf.offset
    ((3, 3), (1, 1), (-1, -1))
    >>> rf.box(0, 0)  # (top, left, bottom, right), bottom and right exclusive
    (0, 0, 2, 2)
    """

    site: str
    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]
    grid: tuple[int, int]
    input_size: tuple[int, int]
    exact: bool = True

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The field of output position (row, col), clipped to the image: (top, left, bottom,
        right) in input pixels, bottom and right exclusive."""
        top, left = (
            p * s + o for p, s, o in zip((row, col), self.stride, self.offset, strict=True)
        )
        return (
            max(top, 0),
            max(left, 0),
            min(top + self.size[0], self.input_size[0]),
            min(left + self.size[1], self.input_size[1]),
        )


@dataclass(frozen=True)
class TopPatches:
    """The inputs that activate each channel of a site most, one entry per image.

    For each selected channel (``channels``, C_sel of them) the k images with the highest
    activation anywhere in the channel's map, best first (ties: lower image index first):

    - ``image_index`` [C_sel, k] long: index into the images given;
    - ``position`` [C_sel, k, 2] long: (row, col) of the maximum in the site's output grid
      (zeros for sites without spatial dimensions);
    - ``value`` [C_sel, k]: the activation there;
    - ``box`` [C_sel, k, 4] long: (top, left, bottom, right) of that position's receptive field
      in input pixels, clipped to the image, bottom and right exclusive;
    - ``origin`` [C_sel, k, 2] long: input pixel (row, col) of each patch's top-left corner;
      negative where the field starts outside the image;
    - ``patches`` [C_sel, k, C_in, ph, pw]: the field as the model sees it, with
      ``ph, pw = min(field size, image size)``: ``patches[c, j, :, u, v]`` is input pixel
      ``origin[c, j] + (u, v)``, zero outside the image (as the convolutions' zero padding is).
    """

    site: str
    channels: list[int]
    image_index: torch.Tensor
    position: torch.Tensor
    value: torch.Tensor
    box: torch.Tensor
    origin: torch.Tensor
    patches: torch.Tensor


# ---------------------------------------------------------------------------- receptive field
def receptive_field(net: Network, site: str) -> ReceptiveField:
    """Measure the receptive field of one output position of `site`, for image inputs.

    The field is found empirically, so it holds for any architecture (residual additions,
    concatenations, pooling, dilation): the gradient of one output position, summed over
    channels, with respect to random inputs is non-zero exactly on the input pixels it depends
    on. Two neighbouring positions give the stride. When the field reaches the image border
    the measurement is repeated on a larger input (models that only accept one size keep the
    clipped measurement, with ``exact=False``). The model runs in eval mode; its modes and
    gradients are left as they were.

    >>> receptive_field(net, "layer2.0.relu1")
    ReceptiveField(site='layer2.0.relu1', size=(21, 21), stride=(4, 4), ...)
    """
    spec = net.site(site)
    height, width = _image_size(net, "Receptive fields")
    cached = _FIELDS.get(net, {}).get(spec.name)
    if cached is not None:
        return cached
    field = _receptive_field(net, spec, height, width)
    _FIELDS.setdefault(net, {})[spec.name] = field
    return field


def _receptive_field(net: Network, spec: Site, height: int, width: int) -> ReceptiveField:
    if len(spec.shape) == 1:
        whole = (height, width)
        return ReceptiveField(spec.name, whole, whole, (0, 0), (1, 1), whole)
    _check_spatial(spec)
    module = _module(net, spec)
    field = _measure_field(net, module, spec, (height, width))
    if field is None:
        raise PathlensError(
            f"The output of site {spec.name!r} does not depend on the input (its gradient is "
            "zero everywhere on random images), so it has no receptive field."
        )
    result, clipped = field
    scale = 2
    while clipped and height * width * scale * scale <= _MAX_MEASURE_PIXELS:
        try:
            bigger = _measure_field(net, module, spec, (height * scale, width * scale))
        except Exception:  # the model only takes its own input size
            break
        if bigger is None or any(b <= g for b, g in zip(bigger[0].grid, result.grid, strict=True)):
            break  # the model resizes internally: larger inputs say nothing about this one
        result, clipped = bigger
        scale *= 2
    return ReceptiveField(
        site=spec.name,
        size=result.size,
        stride=result.stride,
        offset=result.offset,
        grid=tuple(spec.shape[1:]),
        input_size=(height, width),
        exact=not clipped,
    )


def _measure_field(
    net: Network, module: nn.Module, spec: Site, size: tuple[int, int]
) -> tuple[ReceptiveField, bool] | None:
    """Field of a centre position and its lower-right neighbour on random inputs of `size`.

    Returns the field and whether it touched the image border (so may be clipped), or None
    when the site's output does not depend on the input.
    """
    generator = torch.Generator().manual_seed(0)
    channels_in = net.input_shape[0]
    m = _MEASURE_BATCH
    # Several random images: a ReLU that is off for one image blocks its gradient paths, and
    # max pooling passes gradient to one pixel of its window; the union over images sees all.
    x = torch.randn(2 * m, channels_in, *size, generator=generator)
    x = x.to(_device(net)).requires_grad_(True)
    with frozen(net.model, mode="eval"), torch.inference_mode(False), torch.enable_grad():
        out = _run_to_site(net, module, x, spec)
        grid = tuple(out.shape[2:])
        rows = _neighbours(grid[0])
        cols = _neighbours(grid[1])
        # Images are independent in eval mode, so one backward gives one position per image.
        target = torch.cat([out[:m, :, rows[0], cols[0]], out[m:, :, rows[-1], cols[-1]]]).sum()
        if not target.requires_grad:
            return None
        (grad,) = torch.autograd.grad(target, x)
    seen = [grad[:m].abs().sum((0, 1)) > 0, grad[m:].abs().sum((0, 1)) > 0]
    if not seen[0].any() or not seen[1].any():
        return None
    boxes = [_bounding_box(s) for s in seen]
    size_out, stride, offset, clipped = [], [], [], False
    for axis in range(2):
        extent = size[axis]
        first, second = boxes[0][axis], boxes[1][axis]
        positions = (rows, cols)[axis]
        step = positions[-1] - positions[0]
        touches = [b[0] == 0 or b[1] == extent for b in (first, second)]
        if step == 0:  # one position along this axis: it covers the whole input
            s = extent
        elif first[0] > 0 and second[0] > 0:
            s = (second[0] - first[0]) // step
        elif first[1] < extent and second[1] < extent:
            s = (second[1] - first[1]) // step
        else:
            s = max(1, round(extent / grid[axis]))
        clipped = clipped or any(touches)
        size_out.append(first[1] - first[0])
        stride.append(s)
        offset.append(first[0] - positions[0] * s)
    field = ReceptiveField(
        site=spec.name,
        size=(size_out[0], size_out[1]),
        stride=(stride[0], stride[1]),
        offset=(offset[0], offset[1]),
        grid=(grid[0], grid[1]),
        input_size=size,
    )
    return field, clipped


def _neighbours(n: int) -> tuple[int, ...]:
    centre = (n - 1) // 2
    return (centre, centre + 1) if n > 1 else (centre,)


def _bounding_box(seen: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    rows = torch.nonzero(seen.any(1)).flatten()
    cols = torch.nonzero(seen.any(0)).flatten()
    return (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)


# ---------------------------------------------------------------------------- top patches
def top_patches(
    net: Network,
    site: str,
    images: torch.Tensor,
    channels: Sequence[int] | None = None,
    k: int = 8,
    batch_size: int = 256,
) -> TopPatches:
    """The k images (and where in them) that activate each channel of `site` most.

    One pass over `images` [N, C_in, H, W] in batches, keeping only a running top-k per
    channel, so memory does not grow with N. Each image counts once per channel, at its
    strongest position. channels: channel indices (all by default); k: at most N entries are
    returned. See `TopPatches` for the fields and their shapes.

    >>> top = top_patches(net, "layer1.0.relu1", test_set.images, channels=[3, 7], k=8)
    >>> top.patches.shape  # [C_sel, k, C_in, ph, pw]
    torch.Size([2, 8, 1, 5, 5])
    """
    spec = net.site(site)
    images = net.check_inputs(images)
    _image_size(net, "Top patches")
    chosen = _check_channels(spec, channels)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise PathlensError(f"k must be a positive whole number of images per channel, not {k!r}.")
    _check_batch_size(batch_size)
    if len(spec.shape) not in (1, 3):
        _check_spatial(spec)
    field = receptive_field(net, spec.name)
    module = _module(net, spec)
    index = torch.tensor(chosen)
    k = min(k, len(images))

    # Running best per channel: values [C_sel, k'] sorted best first, with the image index and
    # flat position of each. Earlier images come first among equal values, so a stable sort
    # keeps ties in image order and the result does not depend on batch_size.
    best_value = torch.empty(len(chosen), 0)
    best_image = torch.empty(len(chosen), 0, dtype=torch.long)
    best_flat = torch.empty(len(chosen), 0, dtype=torch.long)
    for start, out in _site_outputs(net, module, spec, images, batch_size):
        out = out[:, index.to(out.device)].float().cpu()
        out = out.flatten(2) if out.dim() > 2 else out[:, :, None]  # [B, C_sel, L]
        value, flat = out.max(2)  # the first maximum of each image's map
        count = len(out)
        image = torch.arange(start, start + count).expand(len(chosen), count)
        value = torch.cat([best_value, value.T], 1)
        image = torch.cat([best_image, image], 1)
        flat = torch.cat([best_flat, flat.T], 1)
        order = torch.sort(value, dim=1, descending=True, stable=True).indices[:, :k]
        best_value = value.gather(1, order)
        best_image = image.gather(1, order)
        best_flat = flat.gather(1, order)

    grid_width = field.grid[1]
    position = torch.stack([best_flat // grid_width, best_flat % grid_width], -1)
    box, origin, patch_size = _field_boxes(field, position)
    patches = _crop(images, best_image, origin, patch_size)
    return TopPatches(
        site=spec.name,
        channels=chosen,
        image_index=best_image,
        position=position,
        value=best_value,
        box=box,
        origin=origin,
        patches=patches,
    )


def _field_boxes(
    field: ReceptiveField, position: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Clipped boxes [..., 4], patch origins [..., 2] and the patch size for grid positions."""
    stride = torch.tensor(field.stride)
    offset = torch.tensor(field.offset)
    extent = torch.tensor(field.input_size)
    size = torch.tensor(field.size)
    start = position * stride + offset  # unclipped field, [..., 2]
    end = start + size
    box = torch.cat([start.clamp(min=0), torch.minimum(end, extent)], -1)
    patch = torch.minimum(size, extent)
    # A field larger than the image is shown through an image-sized window that holds all of
    # its visible part; a smaller one is shown whole, padded where it leaves the image.
    origin = torch.minimum(start.clamp(min=0), end - patch)
    return box, origin, (int(patch[0]), int(patch[1]))


def _crop(
    images: torch.Tensor, image_index: torch.Tensor, origin: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Zero-padded crops [*index.shape, C_in, ph, pw] of images at the given origins."""
    ph, pw = size
    flat_index = image_index.flatten()
    flat_origin = origin.reshape(-1, 2)
    # Pad by a whole patch on each side: every window then lies inside the padded image.
    padded = F.pad(images[flat_index].float().cpu(), (pw, pw, ph, ph))
    rows = flat_origin[:, 0, None] + ph + torch.arange(ph)  # [n, ph]
    cols = flat_origin[:, 1, None] + pw + torch.arange(pw)  # [n, pw]
    n = torch.arange(len(flat_index))
    crops = padded[n[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # [n, ph, pw, C]
    crops = crops.permute(0, 3, 1, 2)
    return crops.reshape(*image_index.shape, images.shape[1], ph, pw)


# ---------------------------------------------------------------------------- activation maps
def activation_maps(
    net: Network, site: str, channel: int, images: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """One channel's activation for each image, resized to the input: [N, H_in, W_in].

    Maps smaller than the image are upsampled bilinearly; a site without spatial dimensions
    gives its value everywhere.

    >>> maps = activation_maps(net, "layer2.1.relu1", 5, images[:16])
    >>> maps.shape
    torch.Size([16, 28, 28])
    """
    spec = net.site(site)
    images = net.check_inputs(images)
    height, width = _image_size(net, "Activation maps")
    (channel,) = _check_channels(spec, [channel], name="channel")
    _check_batch_size(batch_size)
    if len(spec.shape) != 1:
        _check_spatial(spec)
    module = _module(net, spec)
    maps = []
    for _, out in _site_outputs(net, module, spec, images, batch_size):
        value = out[:, channel : channel + 1].float()
        if value.dim() == 2:
            value = value[:, :, None, None].expand(-1, -1, height, width)
        elif tuple(value.shape[2:]) != (height, width):
            value = F.interpolate(value, size=(height, width), mode="bilinear", align_corners=False)
        maps.append(value[:, 0].cpu())
    return torch.cat(maps)


# ---------------------------------------------------------------------------- maximisation
def activation_maximization(
    net: Network,
    site: str,
    channel: int,
    steps: int = 128,
    lr: float = 0.1,
    jitter: int = 2,
    frequency_penalty: float = 3.0,
    seed: int = 0,
) -> torch.Tensor:
    """An input image that makes one channel's mean activation large: [C_in, H, W] in [0, 1].

    Adam with learning rate `lr` maximises the channel's mean activation over its map for
    `steps` steps. The image is the sigmoid of an inverse FFT of a spectrum scaled by 1 / f, as
    in Olah et al., "Feature Visualization" (Distill, 2017), starting from faint seeded noise
    around grey. Each step shifts the image by up to `jitter` pixels (so the result does not
    rely on exact pixel positions) and subtracts ``frequency_penalty`` times its total
    variation (mean absolute difference of neighbouring pixels) so that it is not
    high-frequency noise. ``steps=0`` returns the starting image. The weights get no gradients
    and the model's modes are restored; the result depends only on the model, the arguments
    and `seed`.

    >>> image = activation_maximization(net, "layer3.1.bn2", 12)
    >>> image.shape, float(image.min()) >= 0, float(image.max()) <= 1
    (torch.Size([1, 28, 28]), True, True)
    """
    spec = net.site(site)
    height, width = _image_size(net, "Activation maximisation")
    (channel,) = _check_channels(spec, [channel], name="channel")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise PathlensError(f"steps must be a whole number >= 0, not {steps!r}.")
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise PathlensError(f"jitter must be a whole number of pixels >= 0, not {jitter!r}.")
    if not lr > 0:
        raise PathlensError(f"lr must be positive, not {lr!r}.")
    if not frequency_penalty >= 0:
        raise PathlensError(f"frequency_penalty must be >= 0, not {frequency_penalty!r}.")
    module = _module(net, spec)
    generator = torch.Generator().manual_seed(seed)
    device = _device(net)
    shape = (1, net.input_shape[0], height, width // 2 + 1, 2)
    spectrum = (0.01 * torch.randn(shape, generator=generator)).to(device).requires_grad_(True)
    scale = _spectrum_scale(height, width).to(device)
    optimizer = torch.optim.Adam([spectrum], lr=lr)
    shifts = torch.randint(-jitter, jitter + 1, (steps, 2), generator=generator).tolist()

    def image_of(spectrum: torch.Tensor) -> torch.Tensor:  # [1, C_in, H, W] in [0, 1]
        z = torch.view_as_complex(spectrum) * scale
        return torch.sigmoid(_GAIN * torch.fft.irfft2(z, s=(height, width), norm="ortho"))

    with (
        frozen(net.model, mode="eval"),
        torch.inference_mode(False),
        torch.enable_grad(),
    ):
        for dy, dx in shifts:
            image = image_of(spectrum)
            out = _run_to_site(net, module, torch.roll(image, (dy, dx), (2, 3)), spec)
            activation = out[0, channel].mean()
            loss = frequency_penalty * _total_variation(image) - activation
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return image_of(spectrum).detach()[0].cpu()


# Natural images have amplitude spectra falling as 1 / f. Scaling the optimised spectrum that
# way makes an Adam step change all scales alike, where pixel-space steps pile up in the many
# high frequencies and give noise. On the demo ResNet this reaches a higher activation than
# pixel-space optimisation at about the total variation of real Fashion-MNIST images.
_GAIN = 4.0


def _spectrum_scale(height: int, width: int) -> torch.Tensor:
    """1 / frequency for an rfft2 spectrum [H, W // 2 + 1], 1 at the lowest frequencies."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    frequency = (fy**2 + fx**2).sqrt().clamp(min=1 / max(height, width))
    return 1 / (frequency * max(height, width))


def _total_variation(image: torch.Tensor) -> torch.Tensor:
    return (image.diff(dim=2).abs().mean() + image.diff(dim=3).abs().mean()) / 2


# ---------------------------------------------------------------------------- running the model
class _Stop(BaseException):
    """Raised by the capture hook to end the forward at the site.

    A BaseException so that a model's own ``except Exception`` does not swallow it.
    """

    def __init__(self, output: torch.Tensor):
        super().__init__()
        self.output = output


def _run_to_site(net: Network, module: nn.Module, x: torch.Tensor, spec: Site) -> torch.Tensor:
    """The site's output for `x`, without running the rest of the model.

    Stopping at the site also protects the captured tensor from later in-place operations
    (an in-place ReLU after a batch-norm site would change it after the hook saw it).
    """

    def hook(module, args, output):
        raise _Stop(output)

    handle = module.register_forward_hook(hook)
    try:
        net.model(x)
    except _Stop as stop:
        return stop.output
    finally:
        handle.remove()
    raise PathlensError(
        f"Site {spec.name!r} did not run in the model's forward on these inputs (the model "
        "takes another branch for them). Pick a site that runs for every input."
    )


def _site_outputs(
    net: Network, module: nn.Module, spec: Site, images: torch.Tensor, batch_size: int
) -> Iterator[tuple[int, torch.Tensor]]:
    """(first image index, site output [B, C, ...]) per batch, without gradients."""
    device = _device(net)
    with frozen(net.model, weights=False, mode="eval"), torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].to(device)
            yield start, _run_to_site(net, module, batch, spec)


# ---------------------------------------------------------------------------- checks
def _module(net: Network, spec: Site) -> nn.Module:
    return dict(net.model.named_modules())[spec.name]


def _device(net: Network) -> torch.device:
    parameter = next(net.model.parameters(), None)
    return parameter.device if parameter is not None else net.example_input.device


def _image_size(net: Network, what: str) -> tuple[int, int]:
    if len(net.input_shape) != 3:
        raise PathlensError(
            f"{what} need image inputs [N, C, H, W]; this model takes "
            f"[N, {', '.join(map(str, net.input_shape))}]."
        )
    return net.input_shape[1], net.input_shape[2]


def _check_spatial(spec: Site) -> None:
    if len(spec.shape) != 3:
        raise PathlensError(
            f"Site {spec.name!r} has output [N, {', '.join(map(str, spec.shape))}]; learned "
            "features need [N, C, H, W] (a convolution) or [N, C] (a linear layer). Pick "
            "another site."
        )


def _check_channels(
    spec: Site, channels: Sequence[int] | None, name: str = "channels"
) -> list[int]:
    if channels is None:
        return list(range(spec.channels))
    if isinstance(channels, torch.Tensor):
        channels = channels.flatten().tolist()
    elif not isinstance(channels, Sequence):
        channels = [channels]  # one channel index
    chosen = []
    for c in channels:
        try:
            index = operator.index(c)  # ints, numpy integers and 0-d integer tensors
        except TypeError:
            index = None
        if isinstance(c, bool) or index is None or not 0 <= index < spec.channels:
            raise PathlensError(
                f"Site {spec.name!r} has channels 0..{spec.channels - 1}; the {name} "
                f"given include {c!r}. Give channel indices in that range."
            )
        chosen.append(index)
    if not chosen:
        raise PathlensError(f"The {name} list is empty: give at least one channel index.")
    return chosen


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise PathlensError(f"batch_size must be a positive whole number, not {batch_size!r}.")
