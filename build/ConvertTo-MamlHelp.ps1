<#
.SYNOPSIS
Converts PlatyPS (schema 2.0.0, "v1") cmdlet markdown into one MAML help file.

.DESCRIPTION
PowerShell finds the help of a binary cmdlet in `<culture>/<assembly file name>-Help.xml` next to
the assembly. This converter reads the markdown that New-MarkdownHelp writes (front matter, SYNOPSIS,
SYNTAX, DESCRIPTION, EXAMPLES, PARAMETERS with yaml blocks, INPUTS, OUTPUTS, NOTES, RELATED LINKS) and
writes that file, so the build needs no PlatyPS. Any document it cannot understand is an error that
names the file and the problem; nothing is written then.

.EXAMPLE
./build/ConvertTo-MamlHelp.ps1 -Path docs/help -OutputPath out/S3lo/en-US/S3lo.PowerShell.dll-Help.xml
#>
[CmdletBinding()]
param(
    # Markdown files, or directories whose *.md files are converted.
    [Parameter(Mandatory)] [string[]] $Path,
    # The MAML file to write.
    [Parameter(Mandatory)] [string] $OutputPath
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$ns = @{
    msh     = 'http://msh'
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp  = 'http://msdn.microsoft.com/mshelp'
}

function Split-Blocks {
    # Splits lines into text paragraphs and fenced code blocks, in order.
    param([string[]] $Lines)
    $blocks = [System.Collections.Generic.List[object]]::new()
    $text = [System.Collections.Generic.List[string]]::new()
    $code = $null
    $lang = ''
    $flushText = {
        if ($text.Count) { $blocks.Add([pscustomobject]@{ Kind = 'Text'; Language = ''; Content = ($text -join ' ') }); $text.Clear() }
    }
    foreach ($line in $Lines) {
        if ($null -ne $code) {
            if ($line -match '^\s*```\s*$') {
                $blocks.Add([pscustomobject]@{ Kind = 'Code'; Language = $lang; Content = ($code -join "`n") })
                $code = $null
            } else { $code.Add($line) }
        } elseif ($line -match '^\s*```(\S*)\s*$') {
            & $flushText
            $lang = $Matches[1]
            $code = [System.Collections.Generic.List[string]]::new()
        } elseif ($line -match '^\s*$') {
            & $flushText
        } else {
            $text.Add($line.Trim())
        }
    }
    if ($null -ne $code) { throw 'unterminated ``` code block' }
    & $flushText
    , $blocks
}

function Split-Headings {
    # Groups lines under headings of the given level ('##' or '###'); lines before the first heading
    # are returned under the empty title.
    param([string[]] $Lines, [string] $Marker)
    $sections = [System.Collections.Generic.List[object]]::new()
    $current = [pscustomobject]@{ Title = ''; Lines = [System.Collections.Generic.List[string]]::new() }
    $inCode = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inCode = -not $inCode }
        if (-not $inCode -and $line -match "^$Marker\s+(.+?)\s*$") {
            $sections.Add($current)
            $current = [pscustomobject]@{ Title = $Matches[1]; Lines = [System.Collections.Generic.List[string]]::new() }
        } else {
            $current.Lines.Add($line)
        }
    }
    $sections.Add($current)
    , $sections
}

function ConvertFrom-ParameterYaml {
    param([string] $Yaml, [string] $Context)
    $map = @{}
    foreach ($line in $Yaml -split "`n") {
        if ($line -match '^\s*$') { continue }
        if ($line -notmatch '^([A-Za-z ]+):\s*(.*?)\s*$') { throw "$Context`: cannot read yaml line '$line'" }
        $map[$Matches[1].Trim()] = $Matches[2]
    }
    foreach ($key in 'Type', 'Parameter Sets', 'Required', 'Position', 'Accept pipeline input', 'Accept wildcard characters') {
        if (-not $map.ContainsKey($key)) { throw "$Context`: yaml block has no '$key'" }
    }
    $sets = @($map['Parameter Sets'] -split ',' | ForEach-Object Trim | Where-Object { $_ })
    [pscustomobject]@{
        Type           = $map['Type']
        Sets           = $sets
        Aliases        = @(if ($map['Aliases']) { $map['Aliases'] -split ',' | ForEach-Object Trim | Where-Object { $_ } })
        AcceptedValues = @(if ($map['Accepted values']) { $map['Accepted values'] -split ',' | ForEach-Object Trim | Where-Object { $_ } })
        Required       = [bool]::Parse($map['Required'])
        Position       = $map['Position']
        DefaultValue   = $map['Default value']
        PipelineInput  = $map['Accept pipeline input']
        Globbing       = [bool]::Parse($map['Accept wildcard characters'])
    }
}

function Read-CommandMarkdown {
    param([string] $File)
    $lines = @(Get-Content -LiteralPath $File)
    if ($lines.Count -and $lines[0] -eq '---') {
        $end = [Array]::IndexOf($lines, '---', 1)
        if ($end -lt 0) { throw 'front matter has no closing ---' }
        $lines = @($lines | Select-Object -Skip ($end + 1))
    }
    $top = Split-Headings $lines '#'
    $named = @($top | Where-Object Title)
    if ($named.Count -ne 1) { throw "expected exactly one '# Cmdlet-Name' heading, found $($named.Count)" }
    $name = $named[0].Title
    if ($name -notmatch '^([A-Za-z]+)-([A-Za-z0-9]+)$') { throw "'$name' is not a Verb-Noun cmdlet name" }
    $verb, $noun = $Matches[1], $Matches[2]

    $sections = @{}
    foreach ($s in (Split-Headings $named[0].Lines '##')) {
        if ($s.Title) { $sections[$s.Title.ToUpperInvariant()] = $s.Lines.ToArray() }
    }
    foreach ($required in 'SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'PARAMETERS') {
        if (-not $sections.ContainsKey($required)) { throw "missing section '## $required'" }
    }
    $paras = { param($key) @(if ($sections.ContainsKey($key)) { (Split-Blocks $sections[$key]) | ForEach-Object Content }) }

    $synopsis = @(& $paras 'SYNOPSIS')
    if (-not $synopsis) { throw 'SYNOPSIS is empty' }

    $parameters = [ordered]@{}
    foreach ($p in (Split-Headings $sections['PARAMETERS'] '###')) {
        if (-not $p.Title -or $p.Title -eq 'CommonParameters') { continue }
        if ($p.Title -notmatch '^-(\w+)$') { throw "parameter heading '### $($p.Title)' is not '### -Name'" }
        $pname = $Matches[1]
        $blocks = Split-Blocks $p.Lines
        $description = @($blocks | Where-Object { $_.Kind -eq 'Text' -or $_.Language -ne 'yaml' } | ForEach-Object Content)
        $yamls = @($blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'yaml' } |
                ForEach-Object { ConvertFrom-ParameterYaml $_.Content "parameter -$pname" })
        if (-not $yamls) { throw "parameter -$pname has no yaml block" }
        if (-not $description) { throw "parameter -$pname has no description" }
        $parameters[$pname] = [pscustomobject]@{ Name = $pname; Description = $description; Variants = $yamls }
    }

    $syntax = [System.Collections.Generic.List[object]]::new()
    foreach ($s in (Split-Headings $sections['SYNTAX'] '###')) {
        $code = @((Split-Blocks $s.Lines) | Where-Object Kind -EQ 'Code')
        if (-not $code) { if ($s.Title) { throw "syntax set '$($s.Title)' has no code block" } else { continue } }
        $setName = if ($s.Title) { $s.Title -replace '\s*\(Default\)$', '' } else { '__AllParameterSets' }
        $names = @([regex]::Matches(($code.Content -join ' '), '(?<=[\s\[])-(\w+)') | ForEach-Object { $_.Groups[1].Value } |
                Where-Object { $_ -ne $name } | Select-Object -Unique)
        $items = foreach ($n in $names) {
            if (-not $parameters.Contains($n)) { throw "syntax set '$setName' names -$n, which has no '### -$n' under PARAMETERS" }
            $variant = $parameters[$n].Variants | Where-Object { $_.Sets -contains $setName -or $_.Sets -contains '(All)' } | Select-Object -First 1
            if (-not $variant) { throw "parameter -$n has no yaml block whose 'Parameter Sets' includes '$setName'" }
            [pscustomobject]@{ Parameter = $parameters[$n]; Variant = $variant }
        }
        $syntax.Add([pscustomobject]@{ Name = $setName; Items = @($items) })
    }
    if (-not $syntax.Count) { throw 'SYNTAX has no code block' }

    $examples = foreach ($e in (Split-Headings @(if ($sections.ContainsKey('EXAMPLES')) { $sections['EXAMPLES'] }) '###')) {
        if (-not $e.Title) { continue }
        $blocks = Split-Blocks $e.Lines
        $code = @($blocks | Where-Object Kind -EQ 'Code' | ForEach-Object Content)
        if (-not $code) { throw "example '$($e.Title)' has no code block" }
        [pscustomobject]@{
            Title   = $e.Title
            Code    = $code -join "`n`n"
            Remarks = @($blocks | Where-Object Kind -EQ 'Text' | ForEach-Object Content)
        }
    }

    $typeList = {
        param($key)
        foreach ($t in (Split-Headings @(if ($sections.ContainsKey($key)) { $sections[$key] }) '###')) {
            if (-not $t.Title) { continue }
            [pscustomobject]@{ Name = $t.Title; Description = @((Split-Blocks $t.Lines) | ForEach-Object Content) }
        }
    }

    $links = foreach ($line in @(if ($sections.ContainsKey('RELATED LINKS')) { $sections['RELATED LINKS'] })) {
        if ($line -match '^\s*\[([^\]]*)\]\(([^)]*)\)\s*$') {
            # Get-Help -Online only opens absolute URIs; a topic name stays as link text.
            $uri = if ([uri]::IsWellFormedUriString($Matches[2], [UriKind]::Absolute)) { $Matches[2] } else { '' }
            [pscustomobject]@{ Text = $Matches[1]; Uri = $uri }
        }
        elseif ($line.Trim()) { [pscustomobject]@{ Text = $line.Trim(); Uri = '' } }
    }

    [pscustomobject]@{
        Name        = $name
        Verb        = $verb
        Noun        = $noun
        Synopsis    = $synopsis
        Description = @(& $paras 'DESCRIPTION')
        Syntax      = $syntax.ToArray()
        Parameters  = @($parameters.Values)
        Examples    = @($examples)
        Inputs      = @(& $typeList 'INPUTS')
        Outputs     = @(& $typeList 'OUTPUTS')
        Notes       = @(& $paras 'NOTES')
        Links       = @($links)
    }
}

function Write-Paras {
    param([System.Xml.XmlWriter] $W, [string[]] $Paragraphs)
    if (-not $Paragraphs) { $Paragraphs = @('') }
    foreach ($p in $Paragraphs) { $W.WriteElementString('maml', 'para', $ns.maml, $p) }
}

function Write-Parameter {
    param([System.Xml.XmlWriter] $W, $Parameter, $Variant, [switch] $InSyntax)
    $isSwitch = $Variant.Type -eq 'SwitchParameter'
    $W.WriteStartElement('command', 'parameter', $ns.command)
    $W.WriteAttributeString('required', $Variant.Required.ToString().ToLowerInvariant())
    $W.WriteAttributeString('variableLength', 'true')
    $W.WriteAttributeString('globbing', $Variant.Globbing.ToString().ToLowerInvariant())
    $W.WriteAttributeString('pipelineInput', $Variant.PipelineInput)
    $W.WriteAttributeString('position', $(if ($Variant.Position -match '^\d+$') { $Variant.Position } else { 'named' }))
    $W.WriteAttributeString('aliases', $(if ($Variant.Aliases) { $Variant.Aliases -join ', ' } else { 'none' }))
    $W.WriteElementString('maml', 'name', $ns.maml, $Parameter.Name)
    $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $Parameter.Description; $W.WriteEndElement()
    if ($Variant.AcceptedValues) {
        $W.WriteStartElement('command', 'parameterValueGroup', $ns.command)
        foreach ($v in $Variant.AcceptedValues) {
            $W.WriteStartElement('command', 'parameterValue', $ns.command)
            $W.WriteAttributeString('required', 'false'); $W.WriteAttributeString('command', 'variableLength', $ns.command, 'false')
            $W.WriteString($v); $W.WriteEndElement()
        }
        $W.WriteEndElement()
    }
    if (-not ($InSyntax -and $isSwitch)) {
        $W.WriteStartElement('command', 'parameterValue', $ns.command)
        $W.WriteAttributeString('required', $(if ($isSwitch) { 'false' } else { 'true' }))
        $W.WriteAttributeString('variableLength', 'false')
        $W.WriteString($Variant.Type); $W.WriteEndElement()
    }
    $W.WriteStartElement('dev', 'type', $ns.dev)
    $W.WriteElementString('maml', 'name', $ns.maml, $Variant.Type)
    $W.WriteElementString('maml', 'uri', $ns.maml, '')
    $W.WriteEndElement()
    $W.WriteElementString('dev', 'defaultValue', $ns.dev, $(if ($Variant.DefaultValue) { $Variant.DefaultValue } else { 'None' }))
    $W.WriteEndElement()
}

function Write-TypeList {
    param([System.Xml.XmlWriter] $W, [string] $Outer, [string] $Inner, $Types)
    $W.WriteStartElement('command', $Outer, $ns.command)
    foreach ($t in $Types) {
        $W.WriteStartElement('command', $Inner, $ns.command)
        $W.WriteStartElement('dev', 'type', $ns.dev); $W.WriteElementString('maml', 'name', $ns.maml, $t.Name); $W.WriteEndElement()
        $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $t.Description; $W.WriteEndElement()
        $W.WriteEndElement()
    }
    $W.WriteEndElement()
}

function Write-Command {
    param([System.Xml.XmlWriter] $W, $C)
    $W.WriteStartElement('command', 'command', $ns.command)
    foreach ($prefix in 'maml', 'command', 'dev', 'MSHelp') { $W.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

    $W.WriteStartElement('command', 'details', $ns.command)
    $W.WriteElementString('command', 'name', $ns.command, $C.Name)
    $W.WriteElementString('command', 'verb', $ns.command, $C.Verb)
    $W.WriteElementString('command', 'noun', $ns.command, $C.Noun)
    $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $C.Synopsis; $W.WriteEndElement()
    $W.WriteEndElement()

    $W.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $W $C.Description; $W.WriteEndElement()

    $W.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($set in $C.Syntax) {
        $W.WriteStartElement('command', 'syntaxItem', $ns.command)
        $W.WriteElementString('maml', 'name', $ns.maml, $C.Name)
        foreach ($item in $set.Items) { Write-Parameter $W $item.Parameter $item.Variant -InSyntax }
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($p in $C.Parameters) { Write-Parameter $W $p $p.Variants[0] }
    $W.WriteEndElement()

    Write-TypeList $W 'inputTypes' 'inputType' $C.Inputs
    Write-TypeList $W 'returnValues' 'returnValue' $C.Outputs

    $W.WriteStartElement('maml', 'alertSet', $ns.maml)
    $W.WriteStartElement('maml', 'alert', $ns.maml); Write-Paras $W $C.Notes; $W.WriteEndElement()
    $W.WriteEndElement()

    $W.WriteStartElement('command', 'examples', $ns.command)
    foreach ($e in $C.Examples) {
        $W.WriteStartElement('command', 'example', $ns.command)
        $W.WriteElementString('maml', 'title', $ns.maml, "-------------------------- $($e.Title) --------------------------")
        $W.WriteElementString('dev', 'code', $ns.dev, $e.Code)
        $W.WriteStartElement('dev', 'remarks', $ns.dev); Write-Paras $W $e.Remarks; $W.WriteEndElement()
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteStartElement('maml', 'relatedLinks', $ns.maml)
    foreach ($l in $C.Links) {
        $W.WriteStartElement('maml', 'navigationLink', $ns.maml)
        $W.WriteElementString('maml', 'linkText', $ns.maml, $l.Text)
        $W.WriteElementString('maml', 'uri', $ns.maml, $l.Uri)
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteEndElement()
}

$files = @(foreach ($p in $Path) {
        if (Test-Path -LiteralPath $p -PathType Container) { Get-ChildItem -LiteralPath $p -Filter *.md -File | Where-Object Name -NotLike 'about_*' | Sort-Object Name }
        else { Get-Item -LiteralPath $p }
    })
if (-not $files) { throw "no markdown help found in: $($Path -join ', ')" }

$commands = foreach ($f in $files) {
    try { Read-CommandMarkdown $f.FullName }
    catch { throw "$($f.FullName): $($_.Exception.Message)" }
}

$OutputPath = [System.IO.Path]::GetFullPath($OutputPath, (Get-Location).ProviderPath)
$null = New-Item -ItemType Directory -Force -Path ([System.IO.Path]::GetDirectoryName($OutputPath))
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$writer = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', $ns.msh)
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($c in $commands) { Write-Command $writer $c }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
} finally { $writer.Dispose() }


