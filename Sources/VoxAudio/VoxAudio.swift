// VoxAudio
