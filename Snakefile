# The workflow lives in workflow/Snakefile (Snakemake's standard layout); this file keeps `snakemake` working from
# the top level. Snakemake takes the default target from the main Snakefile only, hence the one rule here.
include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
