using System.Collections;
using System.Globalization;
using S3lo.Core.Oci;
using YamlDotNet.Core;

namespace S3lo.Core.Policy;

/// <summary>
/// s3lo.yaml (docs/format.md, "s3lo.yaml"): the typed policy it holds, and edits that keep the rest of the
/// file as it was. The document keeps the file's text and changes only the spans an edit touches, so a
/// file written by the Go s3lo or by hand comes back byte for byte, comments and unknown keys included.
/// </summary>
public sealed class PolicyDocument
{
    private const string DefaultKey = "default";
    private const string ImagesKey = "images";
    private const string ImmutableKey = "immutable";
    private const string LifecycleKey = "lifecycle";
    private const string KeepLastKey = "keep_last";
    private const string MaxAgeKey = "max_age";
    private const string KeepTagsKey = "keep_tags";
    private const string ChunkedKey = "chunked";
    private const string ChunkFormatKey = "chunk_format";
    private const char ByteOrderMark = '\uFEFF';

    private readonly bool _byteOrderMark;
    private string _text = "";
    private SourceNode? _root;

    private PolicyDocument(bool byteOrderMark) => _byteOrderMark = byteOrderMark;

    public ImagePolicy Default { get; private set; } = ImagePolicy.Empty;

    /// <summary>The <c>images</c> entries in file order.</summary>
    public IReadOnlyList<(string Pattern, ImagePolicy Policy)> Images { get; private set; } = [];

    /// <summary>Whether pushes store layers chunked; null (absent) means yes.</summary>
    public bool? Chunked { get; private set; }

    public int? ChunkFormat { get; private set; }

    /// <summary>Reads s3lo.yaml; null or empty text (no file) is an empty document. Bad values are <c>InvalidPolicy</c>.</summary>
    public static PolicyDocument Parse(string? yaml)
    {
        yaml ??= "";
        var byteOrderMark = yaml.Length > 0 && yaml[0] == ByteOrderMark;
        var document = new PolicyDocument(byteOrderMark);
        document.Load(byteOrderMark ? yaml[1..] : yaml);
        return document;
    }

    public string ToYaml() => _byteOrderMark ? ByteOrderMark + _text : _text;

    public override string ToString() => ToYaml();

    /// <summary>
    /// Sets one key. Values: <see cref="bool"/> for Immutable and Chunked, an integer >= 0 for KeepLast, a
    /// <see cref="TimeSpan"/> or a duration string (written as given) for MaxAge, tags for KeepTags.
    /// Missing sections are created; everything else in the file stays as it was.
    /// </summary>
    public void Set(PolicyScope scope, PolicyKey key, object value)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var path = PathOf(scope, key);
        Load(new YamlEditor(_text, _root).Set(path, ToLeaf(scope, key, value)));
    }

    /// <summary>Writes <c>chunk_format</c> (a chunked push stamps the format it writes); the rest of the file stays as it was.</summary>
    public void SetChunkFormat(int format)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(format, 1);
        Load(new YamlEditor(_text, _root).Set([ChunkFormatKey], new YamlLeaf(format.ToString(CultureInfo.InvariantCulture))));
    }

    /// <summary>
    /// Removes one key; an <c>images</c> entry or a <c>lifecycle</c> (or any section) left empty goes with it.
    /// False when the key was not set.
    /// </summary>
    public bool Unset(PolicyScope scope, PolicyKey key)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return Edit(PathOf(scope, key));
    }

    /// <summary>Removes the whole <c>default</c> section or <c>images</c> entry; false when there was none.</summary>
    public bool RemoveScope(PolicyScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return Edit(scope.Pattern is null ? [DefaultKey] : [ImagesKey, scope.Pattern]);
    }

    /// <summary>
    /// The policy for <paramref name="imageName"/>: <c>default</c>, then the single best-matching <c>images</c>
    /// entry (exact name, else the longest matching pattern, ties by ordinal order). <c>immutable</c> replaces,
    /// lifecycle fields override only where the entry sets them.
    /// </summary>
    public EffectivePolicy Resolve(string imageName)
    {
        ImageName.ValidateName(imageName);
        var pattern = ImagePattern.BestMatch(Images.Select(i => i.Pattern), imageName);
        var entry = pattern is null ? null : Images.First(i => i.Pattern == pattern).Policy;
        var entrySource = pattern is null ? PolicySource.Default : ImagePattern.IsPattern(pattern) ? PolicySource.Pattern : PolicySource.Image;

        PolicyValue<T> Pick<T>(Func<ImagePolicy, T?> read, T? builtIn)
        {
            if (entry is not null && read(entry) is { } fromEntry) return new(fromEntry, entrySource, pattern);
            if (read(Default) is { } fromStore) return new(fromStore, PolicySource.Store, null);
            return new(builtIn, PolicySource.Default, null);
        }

        var immutable = Pick(p => p.Immutable, (bool?)false);
        var maxAge = Pick(p => p.MaxAge, (TimeSpan?)null);
        var maxAgeText = maxAge.Source switch
        {
            PolicySource.Store => Default.MaxAgeText,
            PolicySource.Default => null,
            _ => entry!.MaxAgeText,
        };
        return new EffectivePolicy(imageName,
            new PolicyValue<bool>(immutable.Value ?? false, immutable.Source, immutable.Pattern),
            Pick(p => p.KeepLast, (int?)null),
            maxAge,
            Pick(p => p.KeepTags, null),
            maxAgeText);
    }

    private bool Edit(IReadOnlyList<string> path)
    {
        var edited = new YamlEditor(_text, _root).Remove(path);
        if (edited is null) return false;
        Load(edited);
        return true;
    }

    private static string[] PathOf(PolicyScope scope, PolicyKey key)
    {
        if (key == PolicyKey.Chunked)
        {
            if (scope.Pattern is not null)
                throw new S3loException(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidArgument,
                    $"'{ChunkedKey}' is bucket-wide: set it for the store, not for {scope}.", scope.ToString());
            return [ChunkedKey];
        }
        string[] section = scope.Pattern is null ? [DefaultKey] : [ImagesKey, scope.Pattern];
        return key switch
        {
            PolicyKey.Immutable => [.. section, ImmutableKey],
            PolicyKey.KeepLast => [.. section, LifecycleKey, KeepLastKey],
            PolicyKey.MaxAge => [.. section, LifecycleKey, MaxAgeKey],
            PolicyKey.KeepTags => [.. section, LifecycleKey, KeepTagsKey],
            _ => throw new ArgumentOutOfRangeException(nameof(key), key, null),
        };
    }

    private static YamlLeaf ToLeaf(PolicyScope scope, PolicyKey key, object value)
    {
        S3loException Invalid(string expected) => new(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidArgument,
            $"{scope}: {NameOf(key)} must be {expected}, not '{value}'.", value);

        switch (key)
        {
            case PolicyKey.Immutable or PolicyKey.Chunked:
                return value is bool flag ? new YamlLeaf(flag ? "true" : "false") : throw Invalid("true or false");
            case PolicyKey.KeepLast:
                return value is sbyte or byte or short or ushort or int or uint or long or ulong
                    && Convert.ToDecimal(value, CultureInfo.InvariantCulture) is >= 0 and <= int.MaxValue and var count
                    ? new YamlLeaf(count.ToString(CultureInfo.InvariantCulture))
                    : throw Invalid("an integer >= 0");
            case PolicyKey.MaxAge:
                return value switch
                {
                    TimeSpan span when span >= TimeSpan.Zero => new YamlLeaf(PolicyDuration.Format(span)),
                    string text when PolicyDuration.TryParse(text, out _) => new YamlLeaf(text),
                    _ => throw Invalid("a duration like 90d, 168h or 1h30m"),
                };
            case PolicyKey.KeepTags:
                var tags = value switch
                {
                    string tag => [tag],
                    IEnumerable items => items.Cast<object?>().Select(i => i as string).ToArray(),
                    _ => null,
                };
                if (tags is null || tags.Any(t => !ImageName.IsValidTag(t))) throw Invalid("a list of valid tags");
                var rendered = tags.Select(t => YamlEditor.Scalar(t!)).ToArray();
                return new YamlLeaf("[" + string.Join(", ", rendered) + "]", rendered);
            default:
                throw new ArgumentOutOfRangeException(nameof(key), key, null);
        }
    }

    private static string NameOf(PolicyKey key) => key switch
    {
        PolicyKey.Immutable => ImmutableKey,
        PolicyKey.KeepLast => KeepLastKey,
        PolicyKey.MaxAge => MaxAgeKey,
        PolicyKey.KeepTags => KeepTagsKey,
        _ => ChunkedKey,
    };

    private void Load(string text)
    {
        SourceNode? root;
        try
        {
            root = YamlSource.Parse(text);
        }
        catch (YamlException e)
        {
            throw new S3loException(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidData,
                $"s3lo.yaml line {e.Start.Line}: {e.Message}", "s3lo.yaml", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's parser reports some malformed streams (a flow mapping cut short) as a state it cannot be in.
            throw new S3loException(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidData, $"s3lo.yaml is not valid YAML: {e.Message}", "s3lo.yaml", e);
        }

        var defaultPolicy = ImagePolicy.Empty;
        var images = new List<(string, ImagePolicy)>();
        bool? chunked = null;
        int? chunkFormat = null;
        if (root is not null && !root.IsNull)
        {
            RequireMapping(root, "the top level");
            RejectDuplicateKeys(root, "");
            foreach (var (key, value) in root.Pairs)
            {
                switch (key.Value)
                {
                    case DefaultKey:
                        defaultPolicy = ReadImagePolicy(value, DefaultKey);
                        break;
                    case ImagesKey when !value.IsNull:
                        RequireMapping(value, ImagesKey);
                        foreach (var (imageKey, imageValue) in value.Pairs)
                        {
                            var pattern = imageKey.Value;
                            if (imageKey.Kind != SourceKind.Scalar || !ImagePattern.IsValid(pattern))
                                throw Invalid(imageKey, $"{ImagesKey}[{pattern}]", "is not a valid image name or pattern ('/'-separated lowercase name components; '*' and '?' as wildcards)");
                            images.Add((pattern, ReadImagePolicy(imageValue, $"{ImagesKey}[{pattern}]")));
                        }
                        break;
                    case ChunkedKey:
                        chunked = ReadBool(value, ChunkedKey);
                        break;
                    case ChunkFormatKey:
                        chunkFormat = ReadCount(value, ChunkFormatKey);
                        break;
                }
            }
        }

        _text = text;
        _root = root;
        Default = defaultPolicy;
        Images = images;
        Chunked = chunked;
        ChunkFormat = chunkFormat;
    }

    private static ImagePolicy ReadImagePolicy(SourceNode node, string path)
    {
        if (node.IsNull) return ImagePolicy.Empty;
        RequireMapping(node, path);
        bool? immutable = null;
        int? keepLast = null;
        TimeSpan? maxAge = null;
        string? maxAgeText = null;
        IReadOnlyList<string>? keepTags = null;
        foreach (var (key, value) in node.Pairs)
        {
            if (key.Value == ImmutableKey) immutable = ReadBool(value, $"{path}.{ImmutableKey}");
            if (key.Value != LifecycleKey || value.IsNull) continue;
            var lifecyclePath = $"{path}.{LifecycleKey}";
            RequireMapping(value, lifecyclePath);
            foreach (var (lifecycleKey, setting) in value.Pairs)
            {
                var settingPath = $"{lifecyclePath}.{lifecycleKey.Value}";
                switch (lifecycleKey.Value)
                {
                    case KeepLastKey:
                        keepLast = ReadCount(setting, settingPath);
                        break;
                    case MaxAgeKey when !setting.IsNull:
                        RequireScalar(setting, settingPath);
                        if (!PolicyDuration.TryParse(setting.Value, out var age))
                            throw Invalid(setting, settingPath, $"must be a duration like 90d, 168h or 1h30m, not '{setting.Value}'");
                        (maxAge, maxAgeText) = (age, setting.Value);
                        break;
                    case KeepTagsKey when !setting.IsNull:
                        if (setting.Kind != SourceKind.Sequence) throw Invalid(setting, settingPath, "must be a list of tags, like [stable, latest]");
                        foreach (var item in setting.Items)
                            if (item.Kind != SourceKind.Scalar || !ImageName.IsValidTag(item.Value))
                                throw Invalid(item, settingPath, $"holds '{item.Value}', which is not a valid tag");
                        keepTags = setting.Items.Select(i => i.Value).ToArray();
                        break;
                }
            }
        }
        return new ImagePolicy(immutable, keepLast, maxAge, maxAgeText, keepTags);
    }

    // The YAML 1.1 spellings Go's yaml packages accept for a bool field; like them, a quoted "true" or "10" is a string, not a bool or an int.
    private static bool? ReadBool(SourceNode node, string path)
    {
        if (node.IsNull) return null;
        if (node.Kind == SourceKind.Scalar && node.Style is ScalarStyle.Plain)
        {
            switch (node.Value)
            {
                case "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" or "y" or "Y": return true;
                case "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF" or "n" or "N": return false;
            }
        }
        throw Invalid(node, path, $"must be true or false, not '{node.Value}'");
    }

    private static int? ReadCount(SourceNode node, string path)
    {
        if (node.IsNull) return null;
        if (node.Kind == SourceKind.Scalar && node.Style is ScalarStyle.Plain
            && int.TryParse(node.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) && count >= 0)
            return count;
        throw Invalid(node, path, $"must be an integer >= 0, not '{node.Value}'");
    }

    private static void RequireMapping(SourceNode node, string path)
    {
        if (node.Kind != SourceKind.Mapping) throw Invalid(node, path, "must be a mapping of keys to values");
    }

    private static void RequireScalar(SourceNode node, string path)
    {
        if (node.Kind != SourceKind.Scalar) throw Invalid(node, path, "must be a single value");
    }

    // A duplicate key would make the file mean different things to different readers; Go's decoder refuses it too.
    private static void RejectDuplicateKeys(SourceNode node, string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in node.Pairs)
        {
            var keyPath = path.Length == 0 ? key.Value : $"{path}.{key.Value}";
            if (key.Kind == SourceKind.Scalar && !seen.Add(key.Value)) throw Invalid(key, keyPath, "is set twice");
            RejectDuplicateKeys(value, keyPath);
        }
        foreach (var item in node.Items) RejectDuplicateKeys(item, path);
    }

    private static S3loException Invalid(SourceNode node, string path, string problem)
        => new(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidData, $"s3lo.yaml line {node.Line}: {path} {problem}.", path);
}
