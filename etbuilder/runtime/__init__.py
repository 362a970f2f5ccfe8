"""etbuilder.runtime"""
