namespace S3lo.Core.Formats;

/// <summary>The on-disk forms an image can be saved as.</summary>
public enum ImageFormat
{
    OciLayout,
    OciArchive,
    DockerArchive,
}
