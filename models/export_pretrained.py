"""Exports a pretrained image model to ONNX for Lookalike, matching its preset in models/presets/.

Needs internet access (weights come from the PyTorch and Hugging Face hubs) and:
    pip install torch torchvision transformers onnx
usage:
    python models/export_pretrained.py <preset> [--out FILE] [--random-weights]
presets: resnet18, resnet50, mobilenet-v3-large, efficientnet-b0, clip-vit-b32, dinov2-vits14

The graph takes `image` [batch, 3, 224, 224] (dynamic batch axis) and returns `features` [batch, dims] (or, for
DINOv2, `last_hidden_state` [batch, tokens, 384], pooled by the class token in the manifest). Afterwards:
    MODELS=efficientnet-lite0,colour-texture,<preset> npm run indexer     (and the same MODELS for the API)
--random-weights builds the same graph without downloading weights (to check the export path offline).
"""
import argparse
import hashlib
import os
import sys

PRESETS = ["resnet18", "resnet50", "mobilenet-v3-large", "efficientnet-b0", "clip-vit-b32", "dinov2-vits14"]


def torchvision_model(name, random_weights):
    import torch
    import torchvision.models as tvm

    builders = {
        "resnet18": (tvm.resnet18, "IMAGENET1K_V1"),
        "resnet50": (tvm.resnet50, "IMAGENET1K_V2"),
        "mobilenet-v3-large": (tvm.mobilenet_v3_large, "IMAGENET1K_V2"),
        "efficientnet-b0": (tvm.efficientnet_b0, "IMAGENET1K_V1"),
    }
    build, weights = builders[name]
    model = build(weights=None if random_weights else weights)
    if name.startswith("resnet"):
        model.fc = torch.nn.Identity()
    else:
        # MobileNetV3 / EfficientNet: features → avgpool → flatten, without the classifier.
        model.classifier = torch.nn.Identity()
    return model, "features"


def transformers_model(name, random_weights):
    import torch

    class Wrapper(torch.nn.Module):
        """`image` in, one field of the transformers model's output out (what the ONNX graph returns)."""

        def __init__(self, inner, field):
            super().__init__()
            self.inner = inner
            self.field = field

        def forward(self, image):
            return getattr(self.inner(pixel_values=image), self.field)

    if name == "clip-vit-b32":
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        repo = "openai/clip-vit-base-patch32"
        inner = CLIPVisionModelWithProjection(CLIPVisionConfig(projection_dim=512)) if random_weights else CLIPVisionModelWithProjection.from_pretrained(repo)
        return Wrapper(inner, "image_embeds"), "features"
    from transformers import Dinov2Config, Dinov2Model

    inner = Dinov2Model(Dinov2Config(hidden_size=384, num_attention_heads=6, image_size=518)) if random_weights else Dinov2Model.from_pretrained("facebook/dinov2-small")
    return Wrapper(inner, "last_hidden_state"), "last_hidden_state"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=PRESETS)
    parser.add_argument("--out")
    parser.add_argument("--random-weights", action="store_true")
    args = parser.parse_args()
    import torch

    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, "..", ".cache", "models", "presets", f"{args.preset}.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    loader = transformers_model if args.preset in ("clip-vit-b32", "dinov2-vits14") else torchvision_model
    model, output = loader(args.preset, args.random_weights)
    model.eval()
    dummy = torch.zeros(2, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), out, input_names=["image"], output_names=[output],
                          dynamic_axes={"image": {0: "batch"}, output: {0: "batch"}}, opset_version=17, dynamo=False)
    digest = hashlib.sha256(open(out, "rb").read()).hexdigest()
    print(f"wrote {out}\nsha256 {digest}\nadd \"sha256\": \"{digest}\" to models/presets/{args.preset}.json to pin it")


if __name__ == "__main__":
    sys.exit(main())
