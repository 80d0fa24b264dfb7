using System.Diagnostics;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>Runs the real container tools (skopeo, umoci, podman) the tests use to make and check images.</summary>
public static class Tool
{
    /// <summary>Runs <paramref name="exe"/> and returns its stdout; a non-zero exit throws with its stderr.</summary>
    public static string Run(string exe, params string[] args)
    {
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{exe} did not start.");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new ToolFailedException($"{exe} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}");
        return stdout;
    }
}

public sealed class ToolFailedException(string message) : Exception(message);
