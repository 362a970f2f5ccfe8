"""etbuilder.package"""
