"""Training loops and losses for the detector, the face generator and the multimodal model."""
