from mlplab.cli.main import command

command()
