"""Vision applications: residual networks against plain ones (`residual`); transfer learning from digits 0–4 to 5–9
(`transfer`); IoU and non-max suppression (`boxes`), a YOLO-style grid detector trained live (`grid_detector`) and
MTCNN's face proposals with its shipped weights (`faces`); verification by a triplet-loss embedding (`triplet`);
neural style transfer (`style`)."""

from core.lessons.vision_applications import grid_detector, residual, style, transfer, triplet

BOXES = (residual.BOX, transfer.BOX, transfer.SWEEP_BOX, grid_detector.BOX, triplet.BOX, style.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
