"""etbuilder.cli"""
