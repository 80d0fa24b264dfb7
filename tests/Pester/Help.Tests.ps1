# The MAML converter (build/ConvertTo-MamlHelp.ps1) is proven by PowerShell itself: a compiled cmdlet
# in a fresh pwsh must show, through Get-Help, what the fixture markdown says.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Converter = Join-Path $PSScriptRoot '../../build/ConvertTo-MamlHelp.ps1'
    $script:Fixture = Join-Path $PSScriptRoot 'fixtures/help/Get-FixtureWidget.md'
}

Describe 'ConvertTo-MamlHelp' {
    Context 'a PlatyPS page for a binary cmdlet' {
        BeforeAll {
            $moduleDir = Join-Path $TestDrive 'FixtureWidget'
            $helpFile = Join-Path $moduleDir 'en-US/FixtureWidget.dll-Help.xml'
            & $script:Converter -Path $script:Fixture -OutputPath $helpFile
            $script:Maml = [xml](Get-Content -Raw $helpFile)

            $source = @'
using System.Management.Automation;
namespace FixtureWidget {
    [Cmdlet(VerbsCommon.Get, "FixtureWidget", DefaultParameterSetName = "ByName")]
    public sealed class GetFixtureWidgetCommand : PSCmdlet {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "ByName", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("WidgetName")]
        public string Name { get; set; }
        [Parameter(Mandatory = true, ParameterSetName = "ById", ValueFromPipelineByPropertyName = true)]
        public int Id { get; set; }
        [Parameter(ParameterSetName = "ByName")]
        [ValidateSet("Red", "Green", "Blue")]
        public string Color { get; set; }
        [Parameter]
        public SwitchParameter Force { get; set; }
        protected override void ProcessRecord() => WriteObject(Name);
    }
}
'@
            Set-Content -LiteralPath (Join-Path $TestDrive 'FixtureWidget.cs') -Value $source
            $dll = Join-Path $moduleDir 'FixtureWidget.dll'
            $script:HelpText = (Invoke-TestPwsh -Command @"
`$ErrorActionPreference = 'Stop'
Add-Type -TypeDefinition (Get-Content -Raw '$TestDrive/FixtureWidget.cs') -OutputAssembly '$dll' -OutputType Library
Import-Module '$dll'
Get-Help Get-FixtureWidget -Full | Out-String -Width 400
"@) -join "`n"
        }

        It 'writes MAML with the expected command structure' {
            $ns = [System.Xml.XmlNamespaceManager]::new($script:Maml.NameTable)
            $ns.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
            $ns.AddNamespace('maml', 'http://schemas.microsoft.com/maml/2004/10')
            $command = $script:Maml.SelectSingleNode('//command:command', $ns)
            $command.SelectSingleNode('command:details/command:verb', $ns).InnerText | Should -Be 'Get'
            $command.SelectSingleNode('command:details/command:noun', $ns).InnerText | Should -Be 'FixtureWidget'
            $command.SelectNodes('command:syntax/command:syntaxItem', $ns).Count | Should -Be 2
            $command.SelectNodes('command:parameters/command:parameter', $ns).Count | Should -Be 4
            $command.SelectNodes('command:examples/command:example', $ns).Count | Should -Be 2
            $name = $command.SelectSingleNode("command:parameters/command:parameter[maml:name='Name']", $ns)
            $name.required | Should -Be 'true'
            $name.position | Should -Be '0'
            $name.globbing | Should -Be 'true'
            $name.pipelineInput | Should -Be 'True (ByPropertyName, ByValue)'
        }

        It 'is found by Get-Help next to the cmdlet assembly' {
            $script:HelpText | Should -Match 'Gets fixture widgets by name or by id\.'
            $script:HelpText | Should -Match 'exists only to test the markdown to MAML converter'
            $script:HelpText | Should -Match 'with <angle brackets> & an ampersand'
        }

        It 'shows the description of -<Name>' -TestCases @(
            @{ Name = 'Name'; Text = 'The name of the widget to get; wildcards select several widgets.' }
            @{ Name = 'Id'; Text = 'The numeric identifier of the widget.' }
            @{ Name = 'Color'; Text = 'Only widgets painted in this color are returned.' }
            @{ Name = 'Force'; Text = 'Includes hidden widgets in the result.' }
        ) {
            $script:HelpText | Should -Match ([regex]::Escape($Text))
        }

        It 'shows both examples with title, code and remarks' {
            $script:HelpText | Should -Match 'Example 1: Get a widget by name'
            $script:HelpText | Should -Match ([regex]::Escape('PS> Get-FixtureWidget -Name sprocket'))
            $script:HelpText | Should -Match 'Returns the widget called sprocket\.'
            $script:HelpText | Should -Match 'Example 2: Get a widget by id'
            $script:HelpText | Should -Match ([regex]::Escape('PS> Get-FixtureWidget -Id 42 -Force'))
            $script:HelpText | Should -Match 'Returns widget 42 even when it is hidden\.'
        }

        It 'shows syntax per parameter set, inputs, outputs, notes and links' {
            $script:HelpText | Should -Match ([regex]::Escape('Get-FixtureWidget [-Name] <String> [-Color {Red | Green | Blue}] [-Force] [<CommonParameters>]'))
            $script:HelpText | Should -Match ([regex]::Escape('Get-FixtureWidget -Id <Int32> [-Force] [<CommonParameters>]'))
            $script:HelpText | Should -Match 'System\.String\s+A widget name\.'
            $script:HelpText | Should -Match 'FixtureWidget\.Widget\s+One object per widget found\.'
            $script:HelpText | Should -Match 'Fixture widgets are not real\.'
            $script:HelpText | Should -Match ([regex]::Escape('https://example.invalid/Get-FixtureWidget'))
        }
    }

    Context 'a page it cannot convert' {
        It 'fails naming the file and the problem: <Problem>' -TestCases @(
            @{ Problem = 'parameter -Id has no yaml block'; Edit = { param($t) $t -replace '(?s)(### -Id.*?)```yaml.*?```', '$1' } }
            @{ Problem = "missing section '## SYNOPSIS'"; Edit = { param($t) $t -replace '## SYNOPSIS', '## SUMMARY' } }
            @{ Problem = 'names -Color, which has no'; Edit = { param($t) $t -replace '(?s)### -Color.*?(?=### -Force)', '' } }
        ) {
            $broken = Join-Path $TestDrive 'Get-Broken.md'
            Set-Content -LiteralPath $broken -Value (& $Edit (Get-Content -Raw $script:Fixture))
            $out = Join-Path $TestDrive 'broken/Broken.dll-Help.xml'
            { & $script:Converter -Path $broken -OutputPath $out } | Should -Throw "*Get-Broken.md*$Problem*"
            Test-Path -LiteralPath $out | Should -BeFalse
        }
    }
}
