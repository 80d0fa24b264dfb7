using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

internal enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}

internal static class LayerCompressions
{
    /// <summary>Recognises compressed data by its magic bytes; docker-save archives do not say which layers are compressed.</summary>
    public static LayerCompression Detect(ReadOnlySpan<byte> start)
    {
        if (start is [0x1f, 0x8b, ..]) return LayerCompression.Gzip;
        if (start is [0x28, 0xb5, 0x2f, 0xfd, ..]) return LayerCompression.Zstd;
        return LayerCompression.None;
    }

    public static string OciLayerMediaType(this LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => MediaTypes.OciLayerGzip,
        LayerCompression.Zstd => MediaTypes.OciLayerZstd,
        _ => MediaTypes.OciLayer,
    };
}
