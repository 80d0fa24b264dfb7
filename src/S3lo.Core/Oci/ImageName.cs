using System.Text.RegularExpressions;

namespace S3lo.Core.Oci;

/// <summary>Validation of image names and tags, before either reaches an object key or a file path.</summary>
public static partial class ImageName
{
    public const int MaxNameLength = 255;

    public static void ValidateName(string? name)
    {
        if (!IsValidName(name))
            throw new S3loException(ErrorIds.InvalidName, S3loErrorKind.InvalidArgument,
                $"'{name}' is not a valid image name: use lowercase '/'-separated components of letters and digits, " +
                "joined inside a component by single '.', '_' or '-' (for example org/my-app).", name);
    }

    public static void ValidateTag(string? tag)
    {
        if (!IsValidTag(tag))
            throw new S3loException(ErrorIds.InvalidTag, S3loErrorKind.InvalidArgument,
                $"'{tag}' is not a valid tag: up to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'.", tag);
    }

    public static bool IsValidName(string? name)
        => !string.IsNullOrEmpty(name) && name.Length <= MaxNameLength && name.Split('/').All(c => Component().IsMatch(c));

    public static bool IsValidTag(string? tag) => !string.IsNullOrEmpty(tag) && Tag().IsMatch(tag);

    [GeneratedRegex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Component();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex Tag();
}
