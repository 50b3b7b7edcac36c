print("voxserve")
