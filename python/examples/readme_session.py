import numpy as np
import engram

data = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
train = engram.read_idx_images(f"{data}/train-images-idx3-ubyte.gz", max_items=10000)
test = engram.read_idx_images(f"{data}/t10k-images-idx3-ubyte.gz", max_items=20)
scale = 1 / np.sqrt(np.float32(784))  # pixels in [0, 1/sqrt(D)], as in [DrDAM]
memory = engram.DenseMemory(scale * train)  # (10000, 784) float32: one image a row
energy = engram.LSE(memory, beta=200.0)

visible = np.arange(784) // 28 < 17  # the top 17 of 28 pixel rows are seen
queries = np.where(visible, scale * test, np.float32(0))
result = engram.retrieve(energy, queries, engram.GradientDescent(step=0.1),
                         engram.stop.energy_change(1e-7) | engram.stop.after(1000),
                         clamp=visible)
error = np.abs(result.states - scale * test)[:, ~visible].mean() / scale
print(f"{result.steps.mean():.0f} steps on average, {error:.3f} mean error per hidden pixel")
engram.write_png_grid("completed.png", np.vstack([queries, result.states]) / scale,
                      columns=20, zoom=2)
