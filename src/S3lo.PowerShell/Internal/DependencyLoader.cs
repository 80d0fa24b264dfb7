using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// Loads the engine (S3lo.Core) and everything it depends on (AWSSDK, …) from the module's
/// <c>dependencies</c> folder into an AssemblyLoadContext of its own, so S3lo works in a session
/// where another module already loaded a different AWSSDK version. Only S3lo.Core is handed to the
/// default context, on its first use by a cmdlet; its dependencies stay private.
/// </summary>
public sealed class DependencyLoader : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private const string EngineAssemblyName = "S3lo.Core";
    private static readonly string DependencyDirectory =
        Path.Combine(Path.GetDirectoryName(typeof(DependencyLoader).Assembly.Location)!, "dependencies");
    private static readonly ModuleLoadContext LoadContext = new(DependencyDirectory);

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext defaultContext, AssemblyName name)
        => name.Name == EngineAssemblyName ? LoadContext.LoadFromAssemblyName(name) : null;

    private sealed class ModuleLoadContext(string directory) : AssemblyLoadContext("S3lo", isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            var path = Path.Combine(directory, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
