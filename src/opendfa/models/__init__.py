"""Neural networks: backbones, the multi-task detector, the face generator, the multimodal model."""
