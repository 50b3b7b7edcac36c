// VoxEngines
