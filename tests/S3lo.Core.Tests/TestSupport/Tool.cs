using System.Diagnostics;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>Runs a real command-line tool (skopeo, umoci, curl, …) and fails with its stderr when it fails.</summary>
public static class Tool
{
    public static string Run(string exe, params string[] args) => Run(exe, args, null, TimeSpan.FromMinutes(5));

    public static string Run(string exe, string[] args, IReadOnlyDictionary<string, string>? env, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null)
        {
            foreach (var (k, v) in env) info.Environment[k] = v;
        }
        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        if (p.ExitCode != 0)
            throw new ToolFailedException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }
}

public sealed class ToolFailedException(string message) : Exception(message);
