#ifndef VOX_CLIBAV_SHIM_H
#define VOX_CLIBAV_SHIM_H
// FFmpeg's encoders and muxers (Debian's libavcodec/libavformat), for streaming MP3, Ogg Opus,
// Ogg Vorbis, FLAC and AAC (ADTS) output.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>

// Macros Swift cannot import.
static inline int vox_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vox_averror_eof(void) { return AVERROR_EOF; }
#endif
